"""Which data kind an event or a reading is, and whether a grant's kinds cover it.

The data kinds (sharing.models.DATA_KINDS) are what an owner grants:

- ``readings``: every reading that is not one of the three kinds below; ``readings:<kind>`` one reading kind
  exactly (``readings:temperature``), whatever data kind it would otherwise be, since the owner named it;
- ``location``: readings whose kind has a word of where a thing is (:data:`LOCATION_WORDS`: ``lat``, ``lng``,
  ``gps``, ``gnss``, ``geo``, ``coordinates``, ``position``, ``heading``…, or a word starting ``location``,
  ``position``, ``geo``, ``gps``, ``gnss``, ``coord``, ``latitude``, ``longitude``), the kind split into words at
  ``_ - . : / space``, digits and camelCase (``geo_lat``, ``homeLatitude``, ``gps2``, ``lat-lon``): where the
  thing is, never inside "readings", since where a thing is tells where its owner is. Kinds come from devices'
  payloads, not from the owner, so the vocabulary is wide: a kind wrongly taken for a location is shared only
  under "location" or by name (``readings:<kind>``), the safe side;
- ``diagnostics``: readings whose kind starts with ``diag``, ``error``, ``fault`` or ``battery``;
- ``usage``: usage counters: kinds starting ``usage``, or ending ``count``, ``counter``, ``cycles``, ``hours``,
  ``runtime`` (``brew_count``, ``motor_hours``);
- ``scans``: openings of the thing's tags; ``journal``: the owner's journal entries (create, edit, delete).

A grant covers an event if any of its kinds does. Grants default to nothing: an empty list covers nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import connection

from sharing.models import DATA_KINDS
from twins.models import Reading, Twin

READINGS = "readings"
LOCATION = "location"
DIAGNOSTICS = "diagnostics"
USAGE = "usage"
SCANS = "scans"
JOURNAL = "journal"
READING_PREFIX = "readings:"

# The data kinds a reading can be (the others are events of their own).
READING_DATA_KINDS = (READINGS, LOCATION, DIAGNOSTICS, USAGE)

# Words of a reading kind that say where the thing is (review finding 6: geo_lat, gnss, latlng… were "readings").
LOCATION_WORDS = frozenset(
    {
        "location", "loc", "position", "pos", "place", "address", "where", "waypoint",
        "gps", "gnss", "glonass", "nmea", "geo", "geohash", "geopoint", "geofence",
        "coord", "coords", "coordinate", "coordinates", "utm", "mgrs", "easting", "northing", "pluscode",
        "lat", "latitude", "lon", "lng", "longitude", "latlng", "latlon", "latlong", "lonlat", "lnglat",
        "altitude", "heading", "bearing",
    }
)  # fmt: skip
_LOCATION_PREFIXES = ("location", "position", "geo", "gps", "gnss", "coord", "latitude", "longitude")
# A word: an acronym before a capitalised word (GPS in GPSFix), a capitalised or lower-case word, an acronym, digits.
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
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


@lru_cache(maxsize=1024)
def reading_data_kind(kind: str) -> str:
    """The data kind of a reading of `kind` (see the module's docstring for the rules). Cached: a thing has a few
    kinds, and the outbox collector asks once or twice per reading of a batch (sharing.collect)."""
    if is_location(kind):
        return LOCATION
    name = kind.strip().lower()
    if name.startswith(_DIAGNOSTIC_PREFIXES):
        return DIAGNOSTICS
    if name.startswith(_USAGE_PREFIXES) or name.endswith(_USAGE_SUFFIXES):
        return USAGE
    return READINGS


def kind_words(kind: str) -> list[str]:
    """The words of a reading kind, lower case: ``homeLatitude_2`` → ``["home", "latitude", "2"]``."""
    return [word.lower() for word in _WORDS.findall(kind)]


def is_location(kind: str) -> bool:
    """Whether a reading of `kind` tells where the thing is (any of its words is a location word)."""
    return any(word in LOCATION_WORDS or word.startswith(_LOCATION_PREFIXES) for word in kind_words(kind))


def by_data_kind(reading_kinds: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Reading kinds grouped under the data kind each falls in, as (label, sorted kinds), in the grant form's order
    of data kinds, leaving out data kinds with none: what "Readings (all kinds)" and the others would share."""
    groups: dict[str, list[str]] = {}
    for reading_kind in sorted(set(reading_kinds)):
        groups.setdefault(reading_data_kind(reading_kind), []).append(reading_kind)
    return [(LABELS[kind], groups[kind]) for kind in READING_DATA_KINDS if kind in groups]


# The thing's distinct reading kinds, walking the (twin, kind, time) index from one kind to the next (a loose index
# scan: one probe per kind, not a read of every reading), at most MAX_LISTED.
_THING_KINDS = f"""
WITH RECURSIVE k(kind) AS (
    SELECT (SELECT kind FROM {Reading._meta.db_table} WHERE twin_id = %s ORDER BY kind LIMIT 1)
    UNION ALL
    SELECT (SELECT kind FROM {Reading._meta.db_table} WHERE twin_id = %s AND kind > k.kind ORDER BY kind LIMIT 1)
    FROM k WHERE k.kind IS NOT NULL
)
SELECT kind FROM k WHERE kind IS NOT NULL LIMIT %s
"""  # noqa: S608
MAX_LISTED = 50


def thing_kinds_listed(*, twin: Twin) -> list[tuple[str, list[str]]]:
    """The kinds of the thing's readings (and its own reading kind) under the data kind each falls in
    (:func:`by_data_kind`), for the grant form: what "Readings (all kinds)" would share, and what it would not."""
    with connection.cursor() as cursor:
        cursor.execute(_THING_KINDS, [twin.pk, twin.pk, MAX_LISTED])
        found = [row[0] for row in cursor.fetchall()]
    return by_data_kind([*found, twin.reading_kind] if twin.reading_kind else found)


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
