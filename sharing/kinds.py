"""Which data kind an event or a reading is, and whether a grant's kinds cover it.

The data kinds (sharing.models.DATA_KINDS) are what an owner grants:

- ``readings``: every reading that is not one of the three kinds below; ``readings:<kind>`` one reading kind
  exactly (``readings:temperature``), whatever data kind it would otherwise be, since the owner named it;
- ``location``: readings of kind ``location``, ``position``, ``gps``, ``latitude``, ``longitude``, ``lat``,
  ``lon``, ``lng``, ``altitude`` (or starting ``location``/``position``/``gps``): where the thing is, never
  inside "readings", since where a thing is tells where its owner is;
- ``diagnostics``: readings whose kind starts with ``diag``, ``error``, ``fault`` or ``battery``;
- ``usage``: usage counters: kinds starting ``usage``, or ending ``count``, ``counter``, ``cycles``, ``hours``,
  ``runtime`` (``brew_count``, ``motor_hours``);
- ``scans``: openings of the thing's tags; ``journal``: the owner's journal entries (create, edit, delete).

A grant covers an event if any of its kinds does. Grants default to nothing: an empty list covers nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from sharing.models import DATA_KINDS

READINGS = "readings"
LOCATION = "location"
DIAGNOSTICS = "diagnostics"
USAGE = "usage"
SCANS = "scans"
JOURNAL = "journal"
READING_PREFIX = "readings:"

# The data kinds a reading can be (the others are events of their own).
READING_DATA_KINDS = (READINGS, LOCATION, DIAGNOSTICS, USAGE)

_LOCATION_NAMES = frozenset({"location", "position", "gps", "latitude", "longitude", "lat", "lon", "lng", "altitude"})
_LOCATION_PREFIXES = ("location", "position", "gps")
_DIAGNOSTIC_PREFIXES = ("diag", "error", "fault", "battery")
_USAGE_PREFIXES = ("usage",)
_USAGE_SUFFIXES = ("count", "counter", "cycles", "hours", "runtime")

MAX_READING_KIND = 40  # twins.models.Reading.kind
MAX_KINDS = 20

LABELS = {
    READINGS: "Readings (all kinds)",
    LOCATION: "Location",
    DIAGNOSTICS: "Diagnostics",
    USAGE: "Usage counters",
    SCANS: "Tag scans",
    JOURNAL: "Journal",
}


def reading_data_kind(kind: str) -> str:
    """The data kind of a reading of `kind` (see the module's docstring for the rules)."""
    name = kind.strip().lower()
    if name in _LOCATION_NAMES or name.startswith(_LOCATION_PREFIXES):
        return LOCATION
    if name.startswith(_DIAGNOSTIC_PREFIXES):
        return DIAGNOSTICS
    if name.startswith(_USAGE_PREFIXES) or name.endswith(_USAGE_SUFFIXES):
        return USAGE
    return READINGS


def covers_reading(kinds: Iterable[str], reading_kind: str) -> bool:
    """Whether a grant of `kinds` lets a reading of `reading_kind` through."""
    data_kind = reading_data_kind(reading_kind)
    for kind in kinds:
        if kind == data_kind or kind == READING_PREFIX + reading_kind:
            return True
    return False


def covers(kinds: Iterable[str], data_kind: str) -> bool:
    """Whether a grant of `kinds` covers events of `data_kind` (scans, journal) at all."""
    return data_kind in kinds


def label(kind: str) -> str:
    if kind.startswith(READING_PREFIX):
        return f"Readings of kind “{kind[len(READING_PREFIX) :]}”"
    return LABELS.get(kind, kind)


def clean_kinds(kinds: object) -> list[str]:
    """The kinds as a grant stores them (order kept, duplicates dropped), or a ValidationError on ``kinds``
    that says what is accepted."""
    if not isinstance(kinds, list | tuple) or not all(isinstance(kind, str) for kind in kinds):
        raise ValidationError({"kinds": 'Give the kinds as a list of names, like ["readings", "scans"].'})
    cleaned: list[str] = []
    for raw in kinds:
        kind = raw.strip()
        if kind.startswith(READING_PREFIX):
            reading_kind = kind[len(READING_PREFIX) :].strip()
            if not reading_kind or len(reading_kind) > MAX_READING_KIND:
                raise ValidationError(
                    {
                        "kinds": f"“{raw[:60]}”: name the reading kind after readings:, at most {MAX_READING_KIND} "
                        "characters (readings:temperature)."
                    }
                )
            kind = READING_PREFIX + reading_kind
        elif kind not in DATA_KINDS:
            raise ValidationError(
                {
                    "kinds": f"“{raw[:60]}” is not a data kind. Choose from {', '.join(DATA_KINDS)}, "
                    "or readings:<kind> for one kind of reading."
                }
            )
        if kind not in cleaned:
            cleaned.append(kind)
    if not cleaned:
        raise ValidationError({"kinds": "Choose at least one kind of data to share."})
    if len(cleaned) > MAX_KINDS:
        raise ValidationError({"kinds": f"At most {MAX_KINDS} kinds in one grant."})
    return cleaned
