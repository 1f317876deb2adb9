"""Search beyond a thing's own fields: its attribute values and its journal notes (twins.listing search term).

Attribute values are matched value by value through the database's own JSON functions (SQLite `json_each`,
PostgreSQL `jsonb_each_text`), not by a LIKE over the stored JSON text: that would also match keys and the JSON
syntax, and on SQLite it would miss any accented value (Django stores JSON there with `\\u00e9` escapes).
Notes are matched only on the viewer's own things: a keeper whose credential does not let them read the
journal must not learn what it says by searching.

On PostgreSQL both terms are answered set based, once per query rather than once per row: the viewer's own things
one of whose attribute values contains the query, from `inventory_attribute_value` (one row per value, kept by
triggers, migration 0003) through its trigram index, a plain ILIKE rechecked on each short value; and the things
whose notes' title or text contain it (trigram indexes on both, migration 0002). A kept thing (another owner's)
takes the per-row check. The results are exactly those of the per-row check.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q
from django.db.models.expressions import RawSQL

from twins import listing
from twins.models import JournalNote, Twin

_TWIN_TABLE = Twin._meta.db_table


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _attribute_value_contains(query: str) -> RawSQL:
    pattern = f"%{_escape_like(query)}%"
    if connection.vendor == "postgresql":
        sql = (
            f'EXISTS (SELECT 1 FROM jsonb_each_text(CASE WHEN jsonb_typeof("{_TWIN_TABLE}"."attributes") = \'object\' '  # noqa: S608
            f'THEN "{_TWIN_TABLE}"."attributes" ELSE \'{{}}\'::jsonb END) AS attribute '
            "WHERE attribute.value ILIKE %s ESCAPE '\\')"
        )
    else:
        # SQLite's LIKE ignores case for ASCII letters only, as Django's icontains does there.
        sql = (
            f'EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type("{_TWIN_TABLE}"."attributes") = \'object\' '  # noqa: S608
            f'THEN "{_TWIN_TABLE}"."attributes" ELSE \'{{}}\' END) AS attribute '
            "WHERE attribute.type NOT IN ('object', 'array') AND CAST(attribute.value AS TEXT) LIKE %s ESCAPE '\\')"
        )
    # Our table name and our SQL; the query is a parameter.
    return RawSQL(sql, [pattern], output_field=BooleanField())  # noqa: S611


_OWN_VALUES = "SELECT twin_id FROM inventory_attribute_value WHERE owner_id = %s AND value ILIKE %s ESCAPE '\\'"


def _indexed_term(query: str, viewer_id: int, *, others: bool) -> Q:
    """PostgreSQL: the same matches as the per-row term, the viewer's own things found through the indexes: those
    one of whose attribute values contains `query`, one index-served set (migration 0003), which a list of only the
    viewer's things tests on the row instead when it is common (twins.listing.gathered)."""
    values = [viewer_id, f"%{_escape_like(query)}%"]
    if not others:
        own = listing.indexed_set(_OWN_VALUES, values, per_row=Q(_attribute_value_contains(query)))
    else:
        own = Q(pk__in=RawSQL(_OWN_VALUES, values))  # noqa: S611 (our SQL; the owner and pattern are parameters)
    noted = JournalNote.objects.filter(twin__owner_id=viewer_id).filter(
        Q(title__icontains=query) | Q(text__icontains=query)
    )
    if not others:
        # Only the viewer's things in the list: two index-served sets, nothing read row by row.
        return own | Q(pk__in=noted.values("twin_id"))
    mine = Q(owner_id=viewer_id) & (own | Q(pk__in=noted.values("twin_id")))
    # A kept thing (another owner's) may match by its attribute values, never by its notes.
    return mine | (~Q(owner_id=viewer_id) & Q(_attribute_value_contains(query)))


def search_term(query: str, viewer, *, others: bool = True) -> Q:
    """A thing matches if one of its attribute values, or (for its owner) one of its journal notes, contains
    `query`. `others`: the list also holds other owners' things (twins.listing)."""
    viewer_id = getattr(viewer, "pk", None)
    if connection.vendor == "postgresql" and viewer_id is not None:
        return _indexed_term(query, viewer_id, others=others)
    notes = JournalNote.objects.filter(twin=OuterRef("pk")).filter(Q(title__icontains=query) | Q(text__icontains=query))
    return Q(_attribute_value_contains(query)) | (Q(owner_id=viewer_id) & Q(Exists(notes)))


def connect() -> None:
    listing.register_search("inventory.search", search_term)
