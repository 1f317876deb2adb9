"""From a source's JSON payload to readings: JSON Pointer (RFC 6901) paths per source.

Default format (used when a source has no mapping of its own)::

    {"readings": [{"thing": "<slug or external id>", "kind": "temp", "value": 21.5, "unit": "°C",
                   "time": "2026-11-21T10:00:00Z"}, ...]}

or one reading object on its own (``{"thing": ..., "value": ...}``). Only ``value`` is required:

- ``thing``: the thing's slug or the external id the owner mapped; may be left out when the source feeds
  exactly one thing.
- ``kind`` (≤ 40 characters): defaults to the thing's reading kind. ``unit`` (≤ 20): defaults to the thing's
  unit when the kind is the thing's own, else empty.
- ``value``: a finite number (a numeric string such as "21.5" is accepted).
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
Multikey (``z6Mk…``); without it every registered key of the thing is tried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_READINGS = 1000
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


@dataclass(frozen=True)
class RawReading:
    """One reading as the payload gave it, thing not yet resolved. `pointer` locates the reading object."""

    pointer: str
    thing: str | None
    thing_pointer: str
    kind: str | None
    value: float
    unit: str | None
    time: datetime | None
    # A device signature (ingest.devices) and what it signed; None when the reading carries no signature.
    signature: str | None = None
    signature_pointer: str = ""
    key: str | None = None
    key_pointer: str = ""
    signed: dict[str, Any] | None = None


def _value(raw: Any, where: str) -> float:
    if raw is MISSING or raw is None:
        raise PayloadError(where, "A reading needs a value.")
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise PayloadError(where, "The value must be a number.")
    try:
        number = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (ValueError, OverflowError):
        raise PayloadError(where, "The value must be a number, like 21.5.") from None
    if not math.isfinite(number):
        raise PayloadError(where, "The value must be a finite number.")
    return number


def _text(raw: Any, where: str, limit: int, label: str) -> str | None:
    if raw is MISSING or raw is None:
        return None
    if not isinstance(raw, str):
        raise PayloadError(where, f"The {label} must be text.")
    text = raw.strip()
    if len(text) > limit:
        raise PayloadError(where, f"The {label} is at most {limit} characters.")
    return text


def _thing(raw: Any, where: str) -> str | None:
    if raw is MISSING or raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise PayloadError(where, "The thing is named by its slug or external id (text).")
    text = str(raw).strip()
    if not text or len(text) > 200:
        raise PayloadError(where, "The thing's name is 1–200 characters.")
    return text


def _time(raw: Any, where: str, now: datetime) -> datetime | None:
    if raw is MISSING or raw is None:
        return None
    if isinstance(raw, bool):
        raise PayloadError(where, "The time is RFC 3339, like 2026-11-21T10:00:00Z, or Unix seconds.")
    try:
        if isinstance(raw, (int, float)):
            time = datetime.fromtimestamp(raw, UTC)
        elif isinstance(raw, str) and len(raw) <= 40:
            time = datetime.fromisoformat(raw.strip())
        else:
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise PayloadError(where, "The time is RFC 3339, like 2026-11-21T10:00:00Z, or Unix seconds.") from None
    if time.tzinfo is None:
        raise PayloadError(where, "The time needs a time zone, like 2026-11-21T10:00:00Z.")
    if time > now + MAX_FUTURE:
        raise PayloadError(where, "The time is in the future.")
    return time


def extract(payload: Any, mapping: dict[str, str], *, now: datetime) -> list[RawReading]:
    """The readings in `payload` under `mapping` (from :func:`clean_mapping`).

    Raises PayloadError (with the JSON Pointer of the first bad field) or TooManyReadings.
    """
    list_pointer = mapping["readings"]
    found = resolve(payload, parse_pointer(list_pointer))
    if found is MISSING:
        items, base = [payload], ""
        list_pointer = ""
    elif isinstance(found, list):
        items, base = found, None
    else:
        items, base = [found], list_pointer
    if len(items) > MAX_READINGS:
        raise TooManyReadings(f"At most {MAX_READINGS} readings per request.")
    if not items:
        raise PayloadError(list_pointer, "There are no readings.")
    mapping = {**SIGNATURE_MAPPING, **mapping}
    paths = {name: parse_pointer(mapping[name]) for name in (*FIELDS, *SIGNATURE_MAPPING)}
    readings = []
    for index, item in enumerate(items):
        at = join(list_pointer, index) if base is None else base
        if not isinstance(item, dict):
            raise PayloadError(at, "A reading is a JSON object.")

        def field(name: str, item: dict = item, at: str = at) -> tuple[Any, str]:
            return resolve(item, paths[name]), at + mapping[name]

        thing, thing_at = field("thing")
        kind, kind_at = field("kind")
        value, value_at = field("value")
        unit, unit_at = field("unit")
        time, time_at = field("time")
        signature, signature_at = field("signature")
        signed = key = key_at = None
        if signature is not MISSING and signature is not None:
            signature = _text(signature, signature_at, MAX_SIGNATURE, "signature")
            key, key_at = field("key")
            key = _text(key, key_at, MAX_KEY, "key")
            raws = {"thing": thing, "kind": kind, "value": value, "unit": unit, "time": time}
            signed = {name: raw for name, raw in raws.items() if raw is not MISSING}
        else:
            signature = None
        readings.append(
            RawReading(
                pointer=at,
                thing=_thing(thing, thing_at),
                thing_pointer=thing_at,
                kind=_text(kind, kind_at, MAX_KIND, "kind"),
                value=_value(value, value_at),
                unit=_text(unit, unit_at, MAX_UNIT, "unit"),
                time=_time(time, time_at, now),
                signature=signature,
                signature_pointer=signature_at,
                key=key,
                key_pointer=key_at or "",
                signed=signed,
            )
        )
    return readings
