"""JSON Canonicalization Scheme (RFC 8785).

``canonicalize`` always gives RFC 8785 bytes, in pure Python: :func:`serialize`
implements the whole scheme (ECMAScript number layout for every double, UTF-16
key order), so the offline verifier needs nothing but PyNaCl. A property test
holds it byte-equal to the reference implementation ``rfc8785`` (installed for
the tests only).

Verification paths use a faster path: for JSON that has no floats, no integers
outside ±2^53, and no character at or above U+D800, RFC 8785 output is exactly
what the C ``json`` encoder writes with sorted keys, compact separators and
``ensure_ascii=False``:

- RFC 8785 §3.2.2.2 string escaping (``\\b \\t \\n \\f \\r \\" \\\\``, other
  controls as lowercase ``\\u00xx``, everything else literal) is what CPython's
  encoder does with ``ensure_ascii=False``;
- §3.2.3 sorts keys by UTF-16 code units; that equals Python's code-point order
  as long as no key holds a character at or above U+D800;
- §3.2.2.3 numbers: integers in the IEEE-754 exact range print the same. Both
  ECMAScript and ``float.__repr__`` print the shortest round-tripping digits;
  they differ only in layout: integral floats (``21.0`` vs ``21``) and
  exponent thresholds (Python switches to ``1e-05``/``1e+16`` earlier). So
  :func:`loads` returns integral numbers as ``int`` (the same JSON number), a
  non-integral float with 1e-4 ≤ |x| < 1e16 prints identically, and any other
  float takes :func:`serialize`.

:func:`loads` parses text and reports whether the fast path is safe.
Property tests check both paths against ``rfc8785``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ssi.errors import EncodingError

try:
    # Optional accelerator (requirements.txt): orjson parses and prints the fast-path shapes below in C (0.6 µs for
    # a did:webvh entry's state against 4.6 µs for the stdlib encoder: bench/verify.py). Without it every function
    # here gives the same bytes and the same verdicts in pure Python: the offline verifier needs only PyNaCl.
    import orjson as _orjson
except ImportError:  # pragma: no cover - the pure path is tested by switching ACCELERATED off
    _orjson = None

ACCELERATED = _orjson is not None
"""Whether :func:`canonicalize` and :func:`loads` take orjson's C path for the shapes that allow it (tests switch it
off to hold the pure path to the same bytes)."""
MAX_SAFE_INTEGER = 2**53 - 1  # ECMAScript Number.MAX_SAFE_INTEGER: larger integers lose precision in JSON
# A raw character at/above U+D800, or a \\uD800-\\uFFFF escape, may sort
# differently under UTF-16 ordering, or be a lone surrogate rfc8785 rejects.
_UNSAFE_TEXT = re.compile(r"[\ud800-\U0010ffff]")
_UNSAFE_ESCAPE = re.compile(r"\\u[dDeEfF]")
_quote = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # §3.2.2.2 escaping
_fast_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
# The C encoder that JSONEncoder.encode builds on every call, built once (the same arguments: sorted keys, compact,
# no ASCII escaping, no NaN), without the circular-reference bookkeeping: JSON cannot be circular, and a circular
# Python value ends in RecursionError instead, which canonicalize reports as EncodingError. Verifying a credential
# canonicalises twice (the document and the proof configuration); building the encoder each time was a fifth of
# that cost (bench/credentials.py).
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_encoder is not None and json.encoder.c_encode_basestring is not None:
    _encode = _c_encoder(None, None, json.encoder.c_encode_basestring, None, ":", ",", True, False, False)

    def _fast_dumps(obj: Any) -> str:  # the faster spelling of the encoder above
        return "".join(_encode(obj, 0))


class _Flags:
    __slots__ = ("simple",)

    def __init__(self) -> None:
        self.simple = True


def _plain_numbers(obj: Any) -> bool:
    """True when every value is a JSON type (str keys) and every number one the fast path prints exactly (safe
    ints; floats repr prints as ECMAScript does). Text is not looked at here: the caller checks the printed
    output once (:func:`_unsafe_text`), one C call instead of one per string. It runs for each document
    verified (bench/credentials.py)."""
    stack = [obj]
    pop, push = stack.pop, stack.append
    containers = 0
    while stack:
        value = pop()
        kind = type(value)
        if kind is dict:
            containers += 1
            if containers > _MAX_CONTAINERS:  # a circular value (JSON never is): serialize says so
                return False
            for key, item in value.items():
                if type(key) is not str:
                    return False
                if type(item) is not str:
                    push(item)
        elif kind is list or kind is tuple:
            containers += 1
            if containers > _MAX_CONTAINERS:
                return False
            for item in value:  # strings are not pushed only to be popped: most list items are
                if type(item) is not str:
                    push(item)
        elif kind is str or value is None or value is True or value is False:
            continue
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                return False
        elif kind is float:
            # See the module docstring: repr and ECMAScript agree for non-integral values in this range.
            if value.is_integer() or not 1e-4 <= abs(value) < 1e16:
                return False
        else:
            return False
    return True


def _parsed_plain_numbers(obj: Any) -> bool:
    """:func:`_plain_numbers` for what ``orjson.loads`` returned: keys are str and the value is a tree (never
    circular) of dict, list, str, int, float, bool and None, so only the numbers are looked at (a third less time
    per did:webvh entry parsed, bench/verify.py)."""
    stack = [obj]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
        kind = type(value)
        if kind is dict:
            for item in value.values():
                if type(item) is not str:
                    push(item)
        elif kind is list:
            for item in value:
                if type(item) is not str:
                    push(item)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                return False
        elif kind is float and (value.is_integer() or not 1e-4 <= abs(value) < 1e16):
            return False
    return True


_MAX_CONTAINERS = 1_000_000
_SORT_KEYS = _orjson.OPT_SORT_KEYS if _orjson is not None else 0
_UNSAFE_UTF8 = re.compile(rb"[\xed-\xf4]")


def _unsafe_text(printed: str) -> bool:
    """Whether printed JSON holds a character at/above U+D800 (JSON's own syntax is ASCII, so any such character
    is in a key or a string, printed as is with ensure_ascii=False): UTF-16 key order or a lone surrogate."""
    return not printed.isascii() and _UNSAFE_TEXT.search(printed) is not None


# Whether every key of a value is a str and every value a JSON type whose numbers the fast path prints exactly (text
# is not looked at). A verifier walks a whole signed document once with it and passes ``plain=True`` to
# canonicalize for its parts (the unsecured document and the proof configuration), instead of one walk per part
# (bench/credentials.py). The same function under its public name, not a wrapper: one call fewer per credential.
plain_numbers = _plain_numbers


def canonicalize(obj: Any, *, simple: bool = False, plain: bool = False) -> bytes:
    """RFC 8785 canonical bytes of ``obj``.

    Pass ``simple=True`` only for values :func:`loads` vouched for (or built
    solely from str, bool, None, safe ints, lists and dicts with such keys).
    Pass ``plain=True`` only when :func:`plain_numbers` answered True for
    ``obj`` or for a value holding it: its text is still checked.
    """
    if simple or plain or _plain_numbers(obj):
        if ACCELERATED:
            # orjson, keys sorted, prints exactly what the stdlib encoder below prints for these values: §3.2.2.2
            # escapes (\b \t \n \f \r, other controls as \u00xx, the rest literal), safe integers as digits,
            # in-range non-integral floats in the shortest round-trip digits (a property test holds it to rfc8785).
            # Anything it refuses (a lone surrogate, nesting past 255, a circular value) takes the stdlib path,
            # which gives the reason.
            try:
                out = _orjson.dumps(obj, option=_SORT_KEYS)
            except TypeError:
                pass
            else:
                # UTF-8 of a character at/above U+D800 starts with a byte 0xED-0xF4: _unsafe_text, on bytes.
                if simple or out.isascii() or _UNSAFE_UTF8.search(out) is None:
                    return out
                return serialize(obj)
        try:
            printed = _fast_dumps(obj)
        except (TypeError, ValueError) as exc:
            raise EncodingError(f"cannot canonicalize: {exc}") from None
        except RecursionError:
            raise EncodingError("cannot canonicalize: nested too deeply (or circular)") from None
        if simple or printed.isascii() or not _UNSAFE_TEXT.search(printed):  # _unsafe_text, spelled out
            try:
                return printed.encode("utf-8")
            except UnicodeError as exc:
                raise EncodingError(f"cannot canonicalize: {exc}") from None
    try:
        return serialize(obj)
    except RecursionError:
        raise EncodingError("cannot canonicalize: nested too deeply (or circular)") from None


def serialize(obj: Any) -> bytes:
    """RFC 8785 canonical bytes of any JSON value, without the fast path.

    Pure Python and complete (ECMAScript number layout for every double,
    UTF-16 key order), so a verifier needs no package beyond PyNaCl. It
    rejects what the reference implementation ``rfc8785`` rejects (integers
    outside ±(2^53 - 1), NaN, infinities, lone surrogates, non-string keys)
    with :class:`EncodingError`; a property test holds the two byte-equal.
    """
    out: list[str] = []
    _write(obj, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingError("cannot canonicalize: string is not valid Unicode (lone surrogate)") from None


def _write(obj: Any, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif isinstance(obj, bool):
        out.append("true" if obj else "false")
    elif isinstance(obj, int):
        if not -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER:
            raise EncodingError(f"cannot canonicalize: {int(obj)} is outside the exact integer range of JSON")
        out.append(str(int(obj)))
    elif isinstance(obj, str):
        out.append(_quote(str.__str__(obj)))
    elif isinstance(obj, float):
        out.append(number(float(obj)))
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise EncodingError("cannot canonicalize: object keys must be strings")
        items = list(obj.items())
        # §3.2.3: keys sort by their UTF-16 code units. Code-point order is the same unless a key holds a
        # character beyond the BMP (a surrogate pair, 0xD800-0xDBFF, sorts before U+E000-U+FFFF).
        if any(_UNSAFE_TEXT.search(k) for k in obj if not k.isascii()):
            items.sort(key=lambda kv: kv[0].encode("utf-16-be", "surrogatepass"))
        else:
            items.sort(key=lambda kv: kv[0])
        out.append("{")
        for i, (k, v) in enumerate(items):
            if i:
                out.append(",")
            out.append(_quote(str.__str__(k)))
            out.append(":")
            _write(v, out)
        out.append("}")
    else:
        raise EncodingError(f"cannot canonicalize: {type(obj).__name__} is not a JSON type")


def number(value: float) -> str:
    """§3.2.2.3: a double as ECMAScript's Number.prototype.toString writes it (ECMA-262 Number::toString).

    ``repr`` gives the shortest digits that round-trip (the same digits ECMAScript requires); only the layout
    differs, so it is rebuilt here from the digits ``d`` (k of them) and the decimal exponent ``n`` with
    value = 0.d * 10^n.
    """
    if value != value or value in (_INF, -_INF):
        raise EncodingError(f"cannot canonicalize: {value} is not a JSON number")
    if value == 0:
        return "0"  # -0 too
    if value < 0:
        return "-" + number(-value)
    mantissa, _, exp = repr(value).partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    digits = raw.lstrip("0")
    n = len(whole) - (len(raw) - len(digits)) + (int(exp) if exp else 0)
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    return digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + sign + str(abs(e))


_INF = float("inf")


def loads(text: str | bytes) -> tuple[Any, bool]:
    """Parse JSON; return ``(value, simple)``.

    ``simple`` is True when :func:`canonicalize` may take the fast path for
    any part of the value. Duplicate keys are an error (RFC 8785 §3.1 requires
    I-JSON input), so is NaN/Infinity.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError("JSON text is not UTF-8") from None
    if (
        ACCELERATED
        and len(text) <= _FAST_MAX
        and ("\\" not in text or "\\u" not in text)  # a one-character search is memchr: 50x the two-character one
        and (text.isascii() or not _UNSAFE_TEXT.search(text))
    ):
        # The shapes a DID log entry or a credential has: no \u escape, no character at/above U+D800, numbers the
        # fast path prints exactly. orjson parses them in C (a third of the hooked parse below). Its numbers are
        # checked after the parse by the same walk canonicalize uses (an integral float, an integer beyond ±2^53,
        # and so any integer orjson could only read as a float, all fail it). It keeps the last of duplicate keys,
        # which are caught by counting colons: with no \u escape (so no \u003a) every ':' of the text is a
        # member's or a literal one inside a string, and the parsed value printed again has one fewer per dropped
        # member (and none of the dropped value's). Anything else, or any doubt, takes the full parse, which also
        # names the fault.
        try:
            value = _orjson.loads(text)
            if type(value) in _CONTAINERS and _parsed_plain_numbers(value):
                printed = _orjson.dumps(value)
                # A text that is exactly its value printed again has no duplicate key (printing a dict cannot
                # make one): one C comparison instead of two counts for the compact JSON writers emit (a did.jsonl
                # line is such); otherwise the colon counts decide.
                if printed == text.encode() or printed.count(b":") == text.count(":"):
                    return value, True
        except (_orjson.JSONDecodeError, TypeError):  # TypeError: JSONEncodeError (nested past 255)
            pass
    return _loads(text)


_CONTAINERS = (dict, list)
# Larger texts (an exported history bundle: megabytes of readings, most with decimals the fast path refuses) go
# straight to the full parse: a refused attempt costs an orjson parse and its walk on top (bench/verify.py's whole
# bundle was 8% slower without this bound).
_FAST_MAX = 256 * 1024


def _loads(text: str) -> tuple[Any, bool]:
    """:func:`loads` of text, in Python's json with checking hooks (the full parse, for any JSON)."""
    flags = _Flags()

    def on_float(s: str) -> float | int:
        v = float(s)
        if v.is_integer():
            if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                # 23.0 and 23 are one JSON number and JCS prints both as "23";
                # an int keeps the fast path exact.
                return int(v)
            flags.simple = False
        elif not 1e-4 <= abs(v) < 1e16:
            flags.simple = False
        return v

    def on_int(s: str) -> int:
        if len(s) > 15:  # beyond ±2^53 needs 16+ digits; exact check only then
            v = int(s)
            if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                flags.simple = False
            return v
        return int(s)

    def on_constant(s: str) -> Any:
        raise EncodingError(f"{s} is not JSON")

    def on_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) != len(pairs):
            raise EncodingError("duplicate key in JSON object")
        return d

    try:
        value = json.loads(
            text,
            parse_float=on_float,
            parse_int=on_int,
            parse_constant=on_constant,
            object_pairs_hook=on_pairs,
        )
    except json.JSONDecodeError as exc:
        raise EncodingError(f"invalid JSON: {exc}") from None
    if flags.simple and (
        ("\\u" in text and _UNSAFE_ESCAPE.search(text)) or (not text.isascii() and _UNSAFE_TEXT.search(text))
    ):
        flags.simple = False
    return value, flags.simple
