"""The optional accelerators (bench/verify.py, bench/credentials.py) give exactly what the pure paths give: orjson in
ssi.jcs the same canonical bytes as the reference rfc8785, the same parsed values and fast-path flags from loads, and
the same refusals (duplicate keys, lone surrogates, numbers JSON cannot hold); gmpy2 in ssi.multibase the same bytes
as base58 read digit by digit. Each property runs on both paths."""

from __future__ import annotations

import json
import re

import pytest
import rfc8785
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ssi import jcs, multibase
from ssi.errors import EncodingError
from ssi.multibase import ALPHABET, b58decode, b58encode

PROPS = settings(
    max_examples=400,
    deadline=None,
    # the fixture only sets which path runs, the same for every example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PATHS = [pytest.param(False, id="pure")] + ([pytest.param(True, id="orjson")] if jcs._orjson is not None else [])

# Any text (non-BMP, private use, lone surrogates) in keys and values, every kind of double, integers on both
# sides of ±2^53 and of 2^64 (orjson reads larger integers as floats).
texts = st.text() | st.sampled_from(["\ud800", "a\udfff", "\U0001f600", "\ufb01", "\ue000", ":", "a:b", "\x7f\x1f"])
numbers = (
    st.integers(-(2**70), 2**70)
    | st.integers(-(2**54), 2**54)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e-7, 1e-4, 1e16, 1e21, 0.5, -0.0, 2.0, 2**53 + 0.0, 5e-324, 9007199254740993])
)
values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=5),
    max_leaves=16,
)


@pytest.fixture(params=PATHS)
def accelerated(request, monkeypatch):
    monkeypatch.setattr(jcs, "ACCELERATED", request.param)
    return request.param


def typed(value):
    """A value with its JSON types spelled out: 1, 1.0 and True compare equal in Python, not here."""
    if isinstance(value, dict):
        return ("dict", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


@PROPS
@given(value=values)
def test_canonicalize_equals_rfc8785_on_both_paths_or_both_refuse(accelerated, value):
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeError):
        with pytest.raises(EncodingError):
            jcs.canonicalize(value)
        return
    assert jcs.canonicalize(value) == expected
    if jcs.plain_numbers(value):  # the caller-vouched flag takes the C path without the walk
        assert jcs.canonicalize(value, plain=True) == expected


@PROPS
@given(value=values, ascii_only=st.booleans(), data=st.data())
def test_loads_gives_the_pure_parse_on_both_paths(accelerated, value, ascii_only, data):
    try:
        text = json.dumps(value, ensure_ascii=ascii_only)
        text.encode("utf-8")
    except (ValueError, UnicodeError):
        return
    if data.draw(st.booleans()) and text.startswith("{") and len(text) > 2:
        # A duplicated member, its value holding colons or not: both paths must refuse it.
        member = data.draw(st.sampled_from(['"k":1', '"k":"a:b"', '"k":{"x":":"}', '"k":[1,2]']))
        text = "{" + member + "," + member + "," + text[1:]
    try:
        expected = jcs._loads(text)
    except EncodingError:
        with pytest.raises(EncodingError):
            jcs.loads(text)
        return
    got = jcs.loads(text)
    assert typed(got[0]) == typed(expected[0])
    assert got[1] == expected[1]
    if got[1]:
        assert jcs.canonicalize(got[0], simple=True) == rfc8785.dumps(json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"a":2}',
        '{"a":{"b":"x","b":"x"}}',
        '[{"k":"a:b"},{"k":"c","k":"c:d"}]',
        '{"a":"x:y","a":"z"}',
        '{"a\\u003a":1,"b":2,"b":3}',  # an escaped colon beside a duplicate: no count may balance them
        '{"a":"\\u003a","b":1,"b":1}',
    ],
)
def test_a_duplicate_key_is_refused_on_both_paths(accelerated, text):
    with pytest.raises(EncodingError, match="duplicate key"):
        jcs.loads(text)


@pytest.mark.parametrize(
    "text, value, simple",
    [
        ('{"n":1.0}', {"n": 1}, True),  # one JSON number: JCS prints "1"
        ('{"n":1e2}', {"n": 100}, True),
        ('{"n":0.5}', {"n": 0.5}, True),
        ('{"n":1e-7}', {"n": 1e-7}, False),  # ECMAScript layout differs from repr: the full serializer
        ('{"n":9007199254740993}', {"n": 9007199254740993}, False),  # beyond 2^53, read exactly
        ('{"n":123456789012345678901234567890}', {"n": 123456789012345678901234567890}, False),  # beyond 2^64
        ('{"t":"00:00:00.5Z","n":[1,2]}', {"t": "00:00:00.5Z", "n": [1, 2]}, True),
        ('{"k":"\\ud83d\\ude00"}', {"k": "\U0001f600"}, False),
    ],
)
def test_numbers_and_escapes_read_as_the_pure_parse_reads_them(accelerated, text, value, simple):
    got, flag = jcs.loads(text)
    assert typed(got) == typed(value)
    assert flag is simple


@pytest.mark.parametrize("text", ['{"n":NaN}', '{"n":Infinity}', '{"a":1', '{"k":"\\ud800"}', "[1,]"])
def test_what_is_not_i_json_is_refused_on_both_paths(accelerated, text):
    try:
        value, simple = jcs.loads(text)
    except EncodingError:
        return
    # Python's json reads a lone surrogate escape; canonicalization must then refuse it.
    assert not simple
    with pytest.raises(EncodingError):
        jcs.canonicalize(value)


def test_nesting_past_orjson_limits_takes_the_pure_path(accelerated):
    deep = "[" * 300 + "]" * 300
    value, simple = jcs.loads(deep)
    assert jcs.canonicalize(value, simple=simple) == deep.encode()


def plain_b58decode(text: str) -> bytes:
    """base58btc decoded digit by digit, as the spec describes it: the reference for the fast decoder."""
    n = 0
    for c in text:
        n = n * 58 + ALPHABET.index(c)
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


B58_PATHS = [pytest.param(False, id="pure")] + ([pytest.param(True, id="gmpy2")] if multibase._mpz is not None else [])


@pytest.fixture(params=B58_PATHS)
def b58_accelerated(request, monkeypatch):
    monkeypatch.setattr(multibase, "ACCELERATED", request.param)
    return request.param


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zeros=st.integers(0, 5), body=st.binary(max_size=80))
def test_fast_base58_equals_the_digit_loop_on_random_bytes_with_leading_zeros(b58_accelerated, zeros, body):
    data = b"\0" * zeros + body
    text = b58encode(data)
    assert plain_b58decode(text) == data
    assert b58decode(text) == data


def plain_b58encode(data: bytes) -> str:
    """base58btc digit by digit, as the spec describes it: the reference both encoders are held to."""
    n, out = int.from_bytes(data, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = ALPHABET[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zeros=st.integers(0, 5), body=st.binary(max_size=200))
def test_fast_base58_encodes_as_the_digit_loop_does(b58_accelerated, zeros, body):
    data = b"\0" * zeros + body
    assert b58encode(data) == plain_b58encode(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=ALPHABET + "0OIl+-_ xé", max_size=100))
def test_fast_base58_decodes_any_string_as_the_digit_loop_does(b58_accelerated, text):
    assume(text)
    if any(c not in ALPHABET for c in text):
        with pytest.raises(EncodingError, match=re.escape(repr(next(c for c in text if c not in ALPHABET)))):
            b58decode(text)
    else:
        assert b58decode(text) == plain_b58decode(text)


def test_a_text_past_the_fast_bound_reads_as_the_pure_parse(accelerated):
    readings = [{"i": i, "value": 20 + i / 4, "unit": "Cel"} for i in range(jcs._FAST_MAX // 30)]
    text = json.dumps({"readings": readings})
    assert len(text) > jcs._FAST_MAX
    value, simple = jcs.loads(text)
    assert typed(value) == typed(jcs._loads(text)[0])  # 20.0 read as the integer 20, 20.25 as a float
    assert simple is True
    with pytest.raises(EncodingError, match="duplicate key"):
        jcs.loads('{"k":1,' + text[1:-1] + ',"k":2}')


@PROPS
@given(value=values)
def test_the_walk_over_a_parsed_value_vouches_as_the_general_walk_does(value):
    # jcs.loads asks _parsed_plain_numbers of what orjson parsed; it must answer as plain_numbers would.
    try:
        text = json.dumps(value)
        parsed = json.loads(text)
    except (ValueError, UnicodeError, RecursionError):
        return
    assert jcs._parsed_plain_numbers(parsed) is jcs.plain_numbers(parsed)


@pytest.mark.parametrize("text", ['{"a":"x\\\\y","b":1,"b":1}', '{"a":"q\\"r","k":"a:b","k":"c"}'])
def test_a_backslash_without_a_u_escape_still_takes_the_checked_fast_path(accelerated, text):
    with pytest.raises(EncodingError, match="duplicate key"):
        jcs.loads(text)
