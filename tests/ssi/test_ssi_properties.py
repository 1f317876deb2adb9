"""Property tests: JCS fast path, history chains and did:webvh logs."""

from __future__ import annotations

import json
import struct

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssi import history, jcs, webvh
from ssi.errors import EncodingError, HistoryError, LogError
from ssi.keys import SigningKey

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCID = "QmPropertyScid123456789abcdef"
KEYS = [SigningKey.from_seed(i.to_bytes(32, "big")) for i in range(1, 8)]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@FAST
@given(json_values, st.booleans())
def test_fast_canonicalization_equals_rfc8785_whenever_loads_allows_it(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    parsed, simple = jcs.loads(text)
    if simple:  # compare with the reference on the value as json parses it (floats kept)
        assert jcs.canonicalize(parsed, simple=True) == rfc8785.dumps(json.loads(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_canonicalize_of_python_values_equals_rfc8785(value):
    """canonicalize() picks the fast path for plain values by itself; it must never differ from the reference."""
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeError):
        return
    assert jcs.canonicalize(value) == expected


# Every double (subnormals, ±0, both exponent thresholds), any text (non-BMP, private use, lone surrogates) in
# keys and values: the pure serializer must equal the reference byte for byte, and refuse what it refuses.
any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**54), 2**54)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e-300, max_value=1e-300)
    | st.sampled_from([1e-7, 1e-6, 1e21, 1e20, 123e18, 5e-324, 1.7976931348623157e308, -0.0, 2**53 + 0.0])
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=5),
    max_leaves=16,
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_json)
def test_pure_serializer_equals_rfc8785_for_any_value(value):
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeError):
        with pytest.raises(EncodingError):
            jcs.serialize(value)
        return
    assert jcs.serialize(value) == expected
    assert jcs.canonicalize(value) == expected


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_layout_equals_rfc8785_for_any_double(x):
    assert jcs.number(x).encode() == rfc8785.dumps(x)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(alphabet=st.characters(codec="utf-8"), max_size=3), st.integers(0, 9), max_size=8))
def test_keys_sort_by_utf16_code_units(obj):
    assert jcs.serialize(obj) == rfc8785.dumps(obj)


@FAST
@given(any_json)
def test_text_parsed_by_loads_canonicalizes_as_rfc8785(value):
    try:
        text = json.dumps(value, ensure_ascii=False)
        expected = rfc8785.dumps(json.loads(text))
    except (rfc8785.CanonicalizationError, ValueError, UnicodeError):
        return
    parsed, simple = jcs.loads(text)
    assert jcs.canonicalize(parsed, simple=simple) == expected


def test_examples_from_rfc8785_appendix_b():
    """RFC 8785 Appendix B: IEEE-754 doubles and their canonical text."""
    cases = {
        0x0000000000000000: "0",
        0x8000000000000000: "0",
        0x0000000000000001: "5e-324",
        0x8000000000000001: "-5e-324",
        0x7FEFFFFFFFFFFFFF: "1.7976931348623157e+308",
        0xFFEFFFFFFFFFFFFF: "-1.7976931348623157e+308",
        0x4340000000000000: "9007199254740992",
        0xC340000000000000: "-9007199254740992",
        0x4430000000000000: "295147905179352830000",
        0x44B52D02C7E14AF5: "9.999999999999997e+22",
        0x44B52D02C7E14AF6: "1e+23",
        0x44B52D02C7E14AF7: "1.0000000000000001e+23",
        0x444B1AE4D6E2EF4E: "999999999999999700000",
        0x444B1AE4D6E2EF4F: "999999999999999900000",
        0x444B1AE4D6E2EF50: "1e+21",
        0x3EB0C6F7A0B5ED8C: "9.999999999999997e-7",
        0x3EB0C6F7A0B5ED8D: "0.000001",
        0x41B3DE4355555553: "333333333.3333332",
        0x41B3DE4355555554: "333333333.33333325",
        0x41B3DE4355555555: "333333333.3333333",
        0x41B3DE4355555556: "333333333.3333334",
        0x41B3DE4355555557: "333333333.33333343",
        0xBECBF647612F3696: "-0.0000033333333333333333",
        0x43143FF3C1CB0959: "1424953923781206.2",
    }
    for bits, text in cases.items():
        assert jcs.number(struct.unpack(">d", bits.to_bytes(8, "big"))[0]) == text


# -- history ---------------------------------------------------------------------

contents = st.one_of(
    st.integers(-1000, 1000),
    st.text(max_size=8),
    st.dictionaries(
        st.sampled_from(["t", "h", "note"]), st.floats(-50, 50, allow_nan=False) | st.text(max_size=5), max_size=3
    ),
)


def _history(items: list, redacted: set[int]) -> list[dict]:
    out: list[dict] = []
    for i, content in enumerate(items):
        out.append(
            history.append(
                out[-1] if out else None,
                content=content,
                kind="reading",
                key=KEYS[0],
                scid=SCID,
                time=f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
            )
        )
    return [history.redact(e) if i in redacted else e for i, e in enumerate(out)]


SCHEDULE = history.KeySchedule.fixed([KEYS[0].multibase])


@FAST
@given(st.lists(contents, min_size=1, max_size=10), st.data())
def test_any_subset_redacted_still_verifies(items, data):
    redacted = data.draw(st.sets(st.integers(0, len(items) - 1)))
    entries = _history(items, redacted)
    report = history.verify_chain(json.loads(json.dumps(entries)), SCHEDULE, scid=SCID)
    assert (report.count, report.redacted) == (len(items), len(redacted))


@FAST
@given(st.lists(contents, min_size=1, max_size=8), st.data())
def test_any_single_character_change_fails_at_that_entry(items, data):
    redacted = data.draw(st.sets(st.integers(0, len(items) - 1)))
    built = _history(items, redacted)  # once: salts are random, so a rebuild would differ
    texts = [json.dumps(e) for e in built]
    k = data.draw(st.integers(0, len(texts) - 1))
    i = data.draw(st.integers(0, len(texts[k]) - 1))
    c = data.draw(st.characters(codec="ascii").filter(lambda ch, old=texts[k][i]: ch != old))
    texts[k] = texts[k][:i] + c + texts[k][i + 1 :]
    try:
        history.verify_chain(texts, SCHEDULE, scid=SCID)
    except HistoryError as exc:
        assert exc.seq == k + 1
    else:
        # Only a change that leaves the JSON value identical may pass
        # (e.g. whitespace, or an escape spelling the same character).
        original = built[k]
        assert json.loads(texts[k]) == json.loads(json.dumps(original))


@FAST
@given(st.lists(contents, min_size=3, max_size=8), st.data())
def test_dropping_or_swapping_entries_fails(items, data):
    entries = _history(items, set())
    k = data.draw(st.integers(1, len(entries) - 2))
    swapped = entries.copy()
    swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k]
    for broken in (entries[:k] + entries[k + 1 :], swapped):
        try:
            history.verify_chain(broken, SCHEDULE, scid=SCID)
        except HistoryError as exc:
            assert exc.seq == k + 1
        else:
            raise AssertionError("a reordered chain verified")


# -- did:webvh -------------------------------------------------------------------

ops = st.lists(st.sampled_from(["doc", "rotate", "prerotate", "ttl"]), min_size=1, max_size=6)


def _log(operations: list[str]) -> webvh.LogState:
    def doc(did: str, i: int) -> dict:
        return webvh.document_for(did, signing_keys=[KEYS[i % len(KEYS)].verify_key])

    holder = 0
    s = webvh.create(
        signer=KEYS[0],
        domain="example.com",
        path=("t", "p"),
        document=doc(webvh.make_did(webvh.SCID_PLACEHOLDER, "example.com", ("t", "p")), 0),
        version_time="2026-01-01T00:00:00Z",
    )
    pending: int | None = None  # index of the pre-committed next key
    for day, op in enumerate(operations, 2):
        when = f"2026-01-{day:02d}T00:00:00Z"
        nxt = (holder + 1) % len(KEYS)
        if pending is not None:
            # Pre-rotation active: only the committed key may act, and must reveal itself.
            holder, pending = pending, None
            s = webvh.rotate(
                s, signer=KEYS[holder], update_keys=[KEYS[holder].multibase], next_key_hashes=[], version_time=when
            )
        elif op == "doc":
            s = webvh.update(s, signer=KEYS[holder], document=doc(s.did, day), version_time=when)
        elif op == "rotate":
            s = webvh.rotate(s, signer=KEYS[holder], update_keys=[KEYS[nxt].multibase], version_time=when)
            holder = nxt
        elif op == "prerotate":
            s = webvh.rotate(
                s,
                signer=KEYS[holder],
                update_keys=[KEYS[holder].multibase],
                next_key_hashes=[webvh.next_key_hash(KEYS[nxt].multibase)],
                version_time=when,
            )
            pending = nxt
        else:
            s = webvh.update(s, signer=KEYS[holder], params={"ttl": day}, version_time=when)
    return s


@FAST
@given(ops)
def test_random_update_and_rotation_sequences_verify(operations):
    s = _log(operations)
    assert webvh.verify_jsonl(s.jsonl()).version_id == s.version_id
    assert s.version_number == len(operations) + 1


@FAST
@given(ops, st.data())
def test_random_single_entry_mutation_fails_at_that_entry(operations, data):
    lines = _log(operations).jsonl().splitlines()
    k = data.draw(st.integers(0, len(lines) - 1))
    i = data.draw(st.integers(0, len(lines[k]) - 1))
    c = data.draw(st.characters(codec="ascii").filter(lambda ch, old=lines[k][i]: ch != old))
    original = lines[k]
    lines[k] = original[:i] + c + original[i + 1 :]
    try:
        webvh.verify_log(lines)
    except LogError as exc:
        assert exc.version == k + 1
    else:
        assert json.loads(lines[k]) == json.loads(original)


# -- hostile shapes: any JSON in any field fails cleanly at that entry -------------

hostile = json_values | st.text(alphabet=st.characters(codec="utf-8"), max_size=5) | st.just("\ud800")


@FAST
@given(st.data(), hostile)
def test_any_value_in_any_history_field_fails_cleanly_at_that_entry(data, value):
    entries = _history([1, {"t": 2.5}, "three"], set())
    k = data.draw(st.integers(0, 2))
    field = data.draw(st.sampled_from(sorted(entries[k])))
    if entries[k][field] == value:
        return
    entries[k] = {**entries[k], field: value}
    try:
        history.verify_chain(entries, SCHEDULE, scid=SCID)
    except HistoryError as exc:
        assert exc.seq == k + 1
    else:
        raise AssertionError(f"{field}={value!r} accepted")


@FAST
@given(st.data(), hostile)
def test_any_value_in_any_log_field_fails_cleanly_at_that_entry(data, value):
    entries = [json.loads(line) for line in _log(["doc", "prerotate", "ttl"]).jsonl().splitlines()]
    k = data.draw(st.integers(0, len(entries) - 1))
    path = data.draw(
        st.sampled_from(
            [
                ("versionId",),
                ("versionTime",),
                ("parameters",),
                ("state",),
                ("proof",),
                ("state", "id"),
                ("proof", 0),
                ("proof", 0, "proofValue"),
                ("proof", 0, "verificationMethod"),
                ("parameters", "updateKeys"),
                ("parameters", "nextKeyHashes"),
                ("parameters", "method"),
            ]
        )
    )
    target = entries[k]
    for step in path[:-1]:
        target = target[step]
    if isinstance(target, dict) and target.get(path[-1]) == value:
        return
    target[path[-1]] = value
    try:
        webvh.verify_log(entries)
    except LogError as exc:
        assert exc.version == k + 1
    else:
        raise AssertionError(f"{path}={value!r} accepted")
