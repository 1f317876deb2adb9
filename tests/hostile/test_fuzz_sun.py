"""Fuzzers for the NFC tap parameters a stranger puts in a tag URL (tags.sun, tags.nfc.read_marker): any query
string is either no SUN message, a well-formed one, or refused with SunError and a message; verification of a
well-formed one either verifies or raises SunError, never anything else. Runs like tests/hostile/test_fuzz.py
(`FUZZ_EXAMPLES=100000` for the long run)."""

from __future__ import annotations

import os
from urllib.parse import urlencode

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tags import nfc, sun

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)

META = bytes.fromhex("8F1A0C3B6E2D4A5968778695A4B3C2D1")
FILE = bytes.fromhex("1D2C3B4A59687786958A9BACBDCEDFE0")
VALID = urlencode(sun.encode_tap(meta_key=META, file_key=FILE, uid=bytes(range(1, 8)), counter=5, file_data=b"a" * 16))
HEXISH = st.text(alphabet="0123456789abcdefABCDEFxyz%&=+ ", max_size=80)


def _check(query: str) -> None:
    try:
        params = sun.parse_query(query)
    except sun.SunError as exc:
        assert len(str(exc)) > 10 and str(exc).endswith(".")  # a sentence for a person
        marker = nfc.read_marker(query)
        assert marker.sun is None and marker.problem == str(exc)
        return
    marker = nfc.read_marker(query)
    if params is None:
        assert marker.sun is None and not marker.problem
        return
    assert marker.sun == params
    try:
        tap = sun.verify(meta_key=META, file_key=FILE, params=params)
    except sun.SunError as exc:
        assert str(exc)
    else:
        assert len(tap.uid) == 7 and 0 <= tap.counter <= sun.MAX_COUNTER


@fuzz
@given(st.text(max_size=300))
@example("")
@example("picc_data=&cmac=")
@example("%%%&&&==")
@example(VALID)
def test_any_query_string(query):
    _check(query)


@fuzz
@given(st.dictionaries(st.sampled_from(["picc_data", "enc", "cmac", "nfc", "x"]), HEXISH, max_size=4))
def test_sun_shaped_queries(params):
    _check(urlencode(params))


@st.composite
def mutated_valid(draw) -> str:
    text = list(VALID)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text) - 1))
        text[at] = draw(st.sampled_from("0123456789ABCDEFaf&=%g"))
    return "".join(text)


@fuzz
@given(mutated_valid())
def test_mutations_of_a_valid_tap_never_verify_as_another_tap(query):
    _check(query)
    if query != VALID:
        try:
            params = sun.parse_query(query)
            tap = sun.verify(meta_key=META, file_key=FILE, params=params) if params else None
        except sun.SunError:
            return
        # A mutation that still verifies can only spell the same message differently (the case of a hex digit):
        # the same UID and counter, which the stored counter then refuses as a replay.
        assert tap is None or (tap.uid, tap.counter) == (bytes(range(1, 8)), 5)
