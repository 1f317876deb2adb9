"""JSON Pointer (RFC 6901) and payload extraction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.mapping import (
    DEFAULT_MAPPING,
    MISSING,
    PayloadError,
    PointerSyntaxError,
    clean_mapping,
    extract,
    join,
    parse_pointer,
    resolve,
)

# RFC 6901 §5's example document and every pointer it lists.
DOC = {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, 'k"l': 6, " ": 7, "m~n": 8}
RFC_EXAMPLES = [
    ("", DOC),
    ("/foo", ["bar", "baz"]),
    ("/foo/0", "bar"),
    ("/", 0),
    ("/a~1b", 1),
    ("/c%d", 2),
    ("/e^f", 3),
    ("/g|h", 4),
    ("/i\\j", 5),
    ('/k"l', 6),
    ("/ ", 7),
    ("/m~0n", 8),
]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("pointer", "expected"), RFC_EXAMPLES)
def test_every_example_of_rfc_6901_resolves(pointer, expected):
    assert resolve(DOC, parse_pointer(pointer)) == expected


@pytest.mark.parametrize("pointer", ["/foo/2", "/foo/-", "/foo/01", "/nope", "/foo/0/x", "/foo/+1"])
def test_pointers_to_nothing_resolve_to_missing(pointer):
    assert resolve(DOC, parse_pointer(pointer)) is MISSING


@pytest.mark.parametrize("pointer", ["foo", "/a~2", "/~", 5])
def test_malformed_pointers_are_refused(pointer):
    with pytest.raises(PointerSyntaxError):
        parse_pointer(pointer)


def test_tilde_escapes_are_undone_in_the_rfc_order():
    assert parse_pointer("/~01") == ("~1",)
    assert join("/a", "b/c", "d~e", 3) == "/a/b~1c/d~0e/3"


def test_a_mapping_is_completed_with_the_defaults():
    assert clean_mapping({"value": "/v"}) == {**DEFAULT_MAPPING, "value": "/v"}
    with pytest.raises(PointerSyntaxError, match="colour"):
        clean_mapping({"colour": "/c"})


def test_the_default_format_takes_a_batch_or_one_reading():
    batch = extract({"readings": [{"thing": "a", "value": 1}, {"value": "2.5"}]}, DEFAULT_MAPPING, now=NOW)
    assert [(r.thing, r.value, r.pointer) for r in batch] == [("a", 1.0, "/readings/0"), (None, 2.5, "/readings/1")]
    single = extract(
        {"thing": "a", "value": 1, "unit": "°C", "time": "2026-11-21T10:00:00+01:00"}, DEFAULT_MAPPING, now=NOW
    )
    assert single[0].unit == "°C" and single[0].time == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def test_a_root_array_is_a_batch_when_the_readings_pointer_is_the_whole_payload():
    readings = extract([{"value": 1}, {"value": 2}], {**DEFAULT_MAPPING, "readings": ""}, now=NOW)
    assert [r.pointer for r in readings] == ["/0", "/1"]


@pytest.mark.parametrize("value", [float("nan"), "inf", "1e400", None, [], {}])
def test_values_that_are_not_finite_numbers_are_refused(value):
    payload = {"readings": [{"value": value}]}
    with pytest.raises(PayloadError) as caught:
        extract(payload, DEFAULT_MAPPING, now=NOW)
    assert caught.value.pointer == "/readings/0/value"
