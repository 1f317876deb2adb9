"""The write path's shortcuts stay exactly what they stand for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ssi import jcs
from twins.models import Reading
from twins.services import history_content, history_content_jcs, new_reading, reading_content


def reading(pk: int, value: float, *, kind: str = "temp", unit: str = "°C", **extra) -> Reading:
    time = extra.pop("time", datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=1))) + timedelta(seconds=pk))
    return new_reading(id=pk, twin_id=1, kind=kind, value=value, unit=unit, time=time, source="api", **extra)


def signed(pk: int, value: float, content: object) -> Reading:
    return reading(pk, value, device_signed=True, device_key="z6MkDevice", signature="uSig", signed_content=content)


def test_history_content_is_the_content_of_each_reading_and_one_reading_its_own():
    readings = [reading(1, 21.5), reading(2, 20.0), signed(3, 3.0, {"value": 3})]
    assert history_content(readings) == {"readings": [reading_content(r) for r in readings]}
    assert history_content(readings[:1]) == reading_content(readings[0])


def test_history_content_jcs_is_exactly_the_jcs_of_the_history_content():
    cases = [
        [reading(1, 21.5), reading(2, 20.0), reading(3, -0.25, kind="humidity", unit="%")],
        [reading(1, 21.5)],  # one reading: its own content, not a list
        [reading(1, 21.5), reading(2, 1e-05)],  # a float repr prints unlike ECMAScript: the full encoder
        [reading(1, 1e16), reading(2, -(2.0**53 - 1)), reading(3, -0.0), reading(4, 0.0001)],
        [reading(1, 21.5, unit="🌡"), reading(2, 1.5, kind="température", unit='"\\\n\x01')],
        [reading(1, 21.5), signed(2, 3.0, {"value": 3, "time": "2026-11-21T10:00:06+01:00", "kind": "é🌡"})],
        [signed(1, 3.0, {"value": 1e-07, "thing": "k"}), signed(2, 4.0, {})],
        [reading(1, 1.5, time=datetime(2026, 1, 1, tzinfo=UTC)), reading(2, 1.5)],  # UTC's own shortcut
        [reading(1, 1.5, time=datetime(2026, 1, 1, 0, 0, 0, 250, tzinfo=UTC))],
    ]
    for readings in cases:
        assert history_content_jcs(readings) == jcs.canonicalize(history_content(readings)), readings


def test_times_keep_the_offset_they_came_with():
    content = history_content_jcs([reading(1, 1.5), reading(2, 1.5, time=datetime(2026, 1, 1, tzinfo=UTC))])
    assert b'"time":"2026-11-21T10:00:01+01:00"' in content
    assert b'"time":"2026-01-01T00:00:00+00:00"' in content


def test_a_lone_surrogate_fails_as_canonicalize_fails():
    readings = [reading(1, 1.5, unit="\ud800")]
    for build in (history_content_jcs, lambda rs: jcs.canonicalize(history_content(rs))):
        try:
            build(readings)
        except jcs.EncodingError:
            continue
        raise AssertionError("a lone surrogate was encoded")


_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
_value = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-(2.0**53 - 1), max_value=2.0**53 - 1),
    st.integers(-1000, 1000).map(float),
    st.sampled_from([1e-4, 9.99e-5, 1e16, 1e15 + 0.5, 5e-324, -0.0, 123456789.125]),
)
_time = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
_signed_content = st.one_of(
    st.none(), st.dictionaries(_text, st.one_of(_text, _value, st.integers(-(2**53 - 1), 2**53 - 1)), max_size=3)
)


@st.composite
def _readings(draw) -> list[Reading]:
    readings = []
    for pk in range(1, draw(st.integers(1, 6)) + 1):
        content = draw(_signed_content)
        extra = {}
        if content is not None:
            extra = {"device_signed": True, "device_key": draw(_text), "signature": draw(_text)}
        readings.append(
            new_reading(
                id=pk,
                twin_id=1,
                kind=draw(_text),
                value=draw(_value),
                unit=draw(_text),
                time=draw(_time),
                source=draw(st.sampled_from(list(Reading.Source))),
                signed_content=content,
                **extra,
            )
        )
    return readings


@settings(max_examples=300, deadline=None)
@given(_readings())
def test_history_content_jcs_equals_canonicalize_for_any_readings(readings):
    assert history_content_jcs(readings) == jcs.canonicalize(history_content(readings))


def test_a_fast_new_reading_has_every_field_of_the_model():
    """new_reading skips Model.__init__, so a field added to Reading must get its default there too (a missing one
    is a "deferred field" error when the reading is saved)."""
    reading = new_reading(twin_id=1, kind="t", value=1.0, time=None)
    missing = [f.attname for f in Reading._meta.concrete_fields if f.attname not in reading.__dict__]
    assert missing == []


def test_an_incoming_reading_carries_every_field_a_batch_writes():
    """NewReading stands in for a Reading on the receive path: a field added to Reading must be one it carries (or,
    like added_by_id, one ingestion never sets), and its model is the Reading of the same fields."""
    from ingest.store import NewReading

    never_set = {"added_by_id"}
    fields = {f.attname for f in Reading._meta.concrete_fields}
    assert fields - never_set == set(NewReading.__slots__)
    time = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    incoming = NewReading(7, "temp", 21.5, "°C", time, "api")
    model = incoming.as_model()
    assert isinstance(model, Reading)
    assert model._state.adding
    assert {name: getattr(model, name) for name in NewReading.__slots__} == {
        name: getattr(incoming, name) for name in NewReading.__slots__
    }
    assert model.added_by_id is None
    incoming.id = 5
    assert incoming.pk == 5
    assert not incoming.as_model()._state.adding


def test_an_incoming_reading_gets_the_history_content_a_model_gets():
    """twins.services.history_content_jcs reads a NewReading's attributes as it reads a Reading's: the same bytes."""
    from ingest.store import NewReading

    time = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    incoming = [NewReading(1, "temp", 20.0 + n / 10, "°C", time + timedelta(seconds=n), "api") for n in range(3)]
    for n, item in enumerate(incoming, start=1):
        item.id = n
    models = [item.as_model() for item in incoming]
    assert history_content_jcs(incoming) == history_content_jcs(models)
    assert history_content_jcs(incoming[:1]) == jcs.canonicalize(reading_content(models[0]))
