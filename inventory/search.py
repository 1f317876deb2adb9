"""Search beyond a thing's own fields: its attribute values and its journal notes (twins.listing search term).

Attribute values are matched value by value through the database's own JSON functions (SQLite `json_each`,
PostgreSQL `jsonb_each_text`), not by a LIKE over the stored JSON text: that would also match keys and the JSON
syntax, and on SQLite it would miss any accented value (Django stores JSON there with `\\u00e9` escapes).
Notes are matched only on the viewer's own things: a keeper whose credential does not let them read the
journal must not learn what it says by searching.
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


def search_term(query: str, viewer) -> Q:
    """A thing matches if one of its attribute values, or (for its owner) one of its journal notes, contains
    `query`."""
    notes = JournalNote.objects.filter(twin=OuterRef("pk")).filter(Q(title__icontains=query) | Q(text__icontains=query))
    return Q(_attribute_value_contains(query)) | (Q(owner_id=getattr(viewer, "pk", None)) & Q(Exists(notes)))


def connect() -> None:
    listing.register_search("inventory.search", search_term)
