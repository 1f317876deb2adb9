"""From a source's JSON payload to readings: JSON Pointer (RFC 6901) paths per source.

Default format (used when a source has no mapping of its own)::

    {"readings": [{"thing": "<slug or external id>", "kind": "temp", "value": 21.5, "unit": "°C",
                   "time": "2026-11-21T10:00:00Z"}, ...]}

or one reading object on its own (``{"thing": ..., "value": ...}``). Only ``value`` is required:

- ``thing``: the thing's slug or the external id the owner mapped; may be left out when the source feeds
  exactly one thing.
- ``kind`` (≤ 40 characters): defaults to the thing's reading kind. ``unit`` (≤ 20): defaults to the thing's
  unit when the kind is the thing's own, else empty.
- ``value``: a finite number, at most ±(2^53 - 1) (a numeric string such as "21.5" is accepted).
- ``time``: RFC 3339 with an offset ("2026-11-21T10:00:00Z") or Unix seconds; defaults to the time of receipt;
  at most 5 minutes ahead.

A source's mapping replaces any of these paths: ``readings`` points at the array of readings (when it does
not resolve, the whole payload is one reading; ``""`` is the payload itself, an array or one object), and
``thing``, ``kind``, ``value``, ``unit``, ``time`` are pointers relative to each reading. Every error names the
absolute JSON Pointer of the offending field.

Device signatures (ingest.devices): a reading may also carry ``signature`` and ``key`` (default pointers
``/signature`` and ``/key``, relative to the reading; a mapping may name others). ``signature`` is a detached
Ed25519 signature, multibase (``z…`` base58btc or ``u…`` base64url) or plain base64url, over the JCS (RFC 8785)
form of the *signed object*: the members ``thing``, ``kind``, ``value``, ``unit``, ``time`` that the reading gives
(through the mapping), under those names, with their JSON values exactly as sent; a member the reading leaves out
is absent; anything else in the reading object (``signature`` and ``key`` included) is not covered. With the
default format that is the reading object minus ``signature`` and ``key``. ``key`` (optional) is the device key's
Multikey (``z6Mk…``); without it every registered key of the thing is tried. A signed reading must give ``time``
(and so sign it): without it a captured reading could be stored again at each new time of receipt. A signature stored
already for the thing is not stored again (ingest.devices.leave_out_repeats).
"""

from __future__ import annotations

import math
import operator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from ssi.jcs import MAX_SAFE_INTEGER

MAX_READINGS = 1000
MAX_VALUE = MAX_SAFE_INTEGER  # a reading's value enters its signed history as JSON
MAX_KIND = 40
MAX_UNIT = 20
MAX_FUTURE = timedelta(minutes=5)
FIELDS = ("thing", "kind", "value", "unit", "time")
DEFAULT_MAPPING = {
    "readings": "/readings",
    "thing": "/thing",
    "kind": "/kind",
    "value": "/value",
    "unit": "/unit",
    "time": "/time",
}
# Optional mapping entries: not in DEFAULT_MAPPING, so a mapping without them reads these pointers.
SIGNATURE_MAPPING = {"signature": "/signature", "key": "/key"}
MAX_SIGNATURE = 100
MAX_KEY = 64
MISSING: Any = object()


class PointerSyntaxError(ValueError):
    """Not a JSON Pointer (RFC 6901 §3)."""


class PayloadError(ValueError):
    """A field of the payload cannot become a reading. `pointer` is its absolute JSON Pointer."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.message = message


class TooManyReadings(ValueError):
    pass


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """RFC 6901: "" is the whole document; otherwise "/"-separated tokens with ~1 → "/" and ~0 → "~"."""
    if not isinstance(pointer, str):
        raise PointerSyntaxError("a JSON Pointer is a string")
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise PointerSyntaxError(f"a JSON Pointer starts with '/': {pointer!r}")
    tokens = []
    for raw in pointer[1:].split("/"):
        if "~" in raw.replace("~0", "").replace("~1", ""):
            raise PointerSyntaxError(f"'~' must be followed by 0 or 1 in {pointer!r}")
        # Order matters (§4): ~1 first, then ~0, so "~01" is "~1" and not "/".
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tuple(tokens)


def escape_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def join(base: str, *tokens: str | int) -> str:
    return base + "".join("/" + escape_token(token) for token in tokens)


def resolve(document: Any, tokens: tuple[str, ...]) -> Any:
    """The value at `tokens` (from :func:`parse_pointer`), or MISSING when the document has nothing there."""
    value = document
    for token in tokens:
        if isinstance(value, dict):
            value = value.get(token, MISSING)
        elif isinstance(value, list):
            # §4: array indexes are "0" or digits without a leading zero; "-" (past the end) never exists.
            if not token.isdigit() or (len(token) > 1 and token[0] == "0") or not token.isascii():
                return MISSING
            index = int(token)
            value = value[index] if index < len(value) else MISSING
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def clean_mapping(mapping: Any) -> dict[str, str]:
    """The full mapping (defaults filled in); raises PointerSyntaxError naming the bad entry."""
    if mapping in (None, ""):
        mapping = {}
    if not isinstance(mapping, dict):
        raise PointerSyntaxError("the mapping is an object of field names to JSON Pointers")
    unknown = set(mapping) - set(DEFAULT_MAPPING) - set(SIGNATURE_MAPPING)
    if unknown:
        raise PointerSyntaxError(f"unknown mapping fields: {', '.join(sorted(unknown))}")
    cleaned = {**DEFAULT_MAPPING, **mapping}
    for name, pointer in cleaned.items():
        try:
            parse_pointer(pointer)
        except PointerSyntaxError as exc:
            raise PointerSyntaxError(f"{name}: {exc}") from None
    return cleaned


class _Where:
    """Where the readings of one payload are, for error pointers: built only when a pointer is asked for."""

    __slots__ = ("list_pointer", "mapping", "single")

    def __init__(self, list_pointer: str, single: bool, mapping: dict[str, str]) -> None:
        self.list_pointer = list_pointer
        self.single = single  # one reading object, not an array: its pointer is list_pointer itself
        self.mapping = mapping

    def reading(self, index: int) -> str:
        return self.list_pointer if self.single else join(self.list_pointer, index)


class RawReading(NamedTuple):
    """One reading as the payload gave it, thing not yet resolved.

    A tuple, and the JSON Pointers of its fields are worked out only when an error needs one: a 1,000-reading
    batch should not build 6,000 pointer strings that nobody reads.
    """

    where: _Where
    index: int
    thing: str | None
    kind: str | None
    value: float
    unit: str | None
    time: datetime | None
    # A device signature (ingest.devices) and what it signed; None when the reading carries no signature.
    signature: str | None = None
    key: str | None = None
    signed: dict[str, Any] | None = None

    @property
    def pointer(self) -> str:
        """The JSON Pointer of the reading object."""
        return self.where.reading(self.index)

    def field_pointer(self, name: str) -> str:
        return self.pointer + self.where.mapping[name]

    @property
    def thing_pointer(self) -> str:
        return self.field_pointer("thing")

    @property
    def signature_pointer(self) -> str:
        return self.field_pointer("signature")

    @property
    def key_pointer(self) -> str:
        return self.field_pointer("key")


class _Bad(Exception):
    """A field that cannot become part of a reading; :func:`extract` adds its JSON Pointer."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


_TIME_FORMAT = "The time is RFC 3339, like 2026-11-21T10:00:00Z, or Unix seconds."
_NO_ZONE = "The time needs a time zone, like 2026-11-21T10:00:00Z."
_FUTURE = "The time is in the future."


def _value(raw: Any) -> float:
    if raw is MISSING or raw is None:
        raise _Bad("value", "A reading needs a value.")
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _Bad("value", "The value must be a number.")
    try:
        number = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (ValueError, OverflowError):
        raise _Bad("value", "The value must be a number, like 21.5.") from None
    if not math.isfinite(number):
        raise _Bad("value", "The value must be a finite number.")
    if not -MAX_VALUE <= number <= MAX_VALUE:
        # Beyond 2^53 a number is an integer that JSON tools (and PostgreSQL's jsonb, where the history is kept)
        # may print differently from the signer: the history entry committing to it could no longer be verified.
        raise _Bad("value", f"The value is out of range: at most ±{MAX_VALUE}.")
    return number


def _text(raw: Any, field: str, limit: int) -> str | None:
    if raw is MISSING or raw is None:
        return None
    if not isinstance(raw, str):
        raise _Bad(field, f"The {field} must be text.")
    text = raw.strip()
    if len(text) > limit:
        raise _Bad(field, f"The {field} is at most {limit} characters.")
    if "\x00" in text:
        raise _Bad(field, f"The {field} must not contain NUL characters.")  # PostgreSQL text cannot hold them
    if not _encodable(text):
        raise _Bad(field, f"The {field} must be valid Unicode text (no lone surrogate escapes).")
    return text


def _thing(raw: Any) -> str | None:
    if raw is MISSING or raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise _Bad("thing", "The thing is named by its slug or external id (text).")
    text = str(raw).strip()
    if not text or len(text) > 200:
        raise _Bad("thing", "The thing's name is 1–200 characters.")
    if "\x00" in text:
        raise _Bad("thing", "The thing's name must not contain NUL characters.")
    if not _encodable(text):
        raise _Bad("thing", "The thing's name must be valid Unicode text (no lone surrogate escapes).")
    return text


def _encodable(text: str) -> bool:
    """Whether `text` is storable (UTF-8): JSON's \\ud800-style escapes can make lone surrogates, which are not."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _time(raw: Any, latest: datetime) -> datetime | None:
    """`latest`: the newest time accepted (now + MAX_FUTURE)."""
    if raw is MISSING or raw is None:
        return None
    if isinstance(raw, bool):
        raise _Bad("time", _TIME_FORMAT)
    try:
        if isinstance(raw, (int, float)):
            time = datetime.fromtimestamp(raw, UTC)
        elif isinstance(raw, str) and len(raw) <= 40:
            time = datetime.fromisoformat(raw.strip())
        else:
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise _Bad("time", _TIME_FORMAT) from None
    if time.tzinfo is None:
        raise _Bad("time", _NO_ZONE)
    if time > latest:
        raise _Bad("time", _FUTURE)
    return time


class _Compiled(NamedTuple):
    """A cleaned mapping with every pointer parsed once, and a getter per reading field."""

    mapping: dict[str, str]  # the cleaned mapping plus the signature defaults
    readings: tuple[str, ...]
    getters: tuple[Any, ...]  # thing, kind, value, unit, time, signature, key: item -> value or MISSING


def _getter(tokens: tuple[str, ...]) -> Any:
    if len(tokens) == 1:
        # The usual case (a member of the reading object): dict.get in C, no Python frame per field.
        return operator.methodcaller("get", tokens[0], MISSING)
    return lambda item: resolve(item, tokens)


@lru_cache(maxsize=256)
def _compile(items: tuple[tuple[str, str], ...]) -> _Compiled:
    mapping = {**SIGNATURE_MAPPING, **dict(items)}
    getters = tuple(_getter(parse_pointer(mapping[name])) for name in (*FIELDS, *SIGNATURE_MAPPING))
    return _Compiled(mapping, parse_pointer(mapping["readings"]), getters)


def extract(payload: Any, mapping: dict[str, str], *, now: datetime) -> list[RawReading]:
    """The readings in `payload` under `mapping` (from :func:`clean_mapping`).

    Raises PayloadError (with the JSON Pointer of the first bad field) or TooManyReadings. Per reading, the
    signature and key are checked first, then thing, kind, value, unit and time.
    """
    compiled = _compile(tuple(mapping.items()))
    list_pointer = mapping["readings"]
    found = resolve(payload, compiled.readings)
    if found is MISSING:
        items, single = [payload], True
        list_pointer = ""
    elif isinstance(found, list):
        items, single = found, False
    else:
        items, single = [found], True
    if len(items) > MAX_READINGS:
        raise TooManyReadings(f"At most {MAX_READINGS} readings per request.")
    if not items:
        raise PayloadError(list_pointer, "There are no readings.")
    where = _Where(list_pointer, single, compiled.mapping)
    get_thing, get_kind, get_value, get_unit, get_time, get_signature, get_key = compiled.getters
    latest = now + MAX_FUTURE
    readings = []
    append = readings.append
    new = tuple.__new__
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError(where.reading(index), "A reading is a JSON object.")
        thing = get_thing(item)
        kind = get_kind(item)
        value = get_value(item)
        unit = get_unit(item)
        time = get_time(item)
        signature = get_signature(item)
        try:
            signed = key = None
            if signature is not MISSING and signature is not None:
                signature = _text(signature, "signature", MAX_SIGNATURE)
                key = _text(get_key(item), "key", MAX_KEY)
                raws = {"thing": thing, "kind": kind, "value": value, "unit": unit, "time": time}
                signed = {name: raw for name, raw in raws.items() if raw is not MISSING}
            else:
                signature = None
            # Fast paths for the common shapes; anything else goes through the full check (and its message).
            if (
                type(thing) is str
                and 0 < len(thing) <= 200
                and not thing[0].isspace()
                and not thing[-1].isspace()
                and "\x00" not in thing
                and (thing.isascii() or _encodable(thing))
            ):
                pass
            else:
                thing = _thing(thing)
            kind = None if kind is MISSING else _text(kind, "kind", MAX_KIND)
            if type(value) is not float or not -MAX_VALUE <= value <= MAX_VALUE:  # not a float, inf, nan, huge
                value = _value(value)
            unit = None if unit is MISSING else _text(unit, "unit", MAX_UNIT)
            if time is MISSING:
                time = None
            elif type(time) is str and len(time) <= 40:
                try:
                    time = datetime.fromisoformat(time.strip())
                except ValueError:
                    raise _Bad("time", _TIME_FORMAT) from None
                if time.tzinfo is None:
                    raise _Bad("time", _NO_ZONE)
                if time > latest:
                    raise _Bad("time", _FUTURE)
            else:
                time = _time(time, latest)
        except _Bad as bad:
            raise PayloadError(where.reading(index) + compiled.mapping[bad.field], bad.message) from None
        append(new(RawReading, (where, index, thing, kind, value, unit, time, signature, key, signed)))
    return readings
