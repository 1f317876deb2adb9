"""Reads that enforce access: every query is scoped to the viewer, so no view can forget it."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Case, F, FloatField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual, Regex
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import NotFoundExplained
from core.parsers import loads
from twins import access
from twins.listing import apply_filters, filter_params, gathered, search_condition, whole_sets
from twins.models import ICONS, JournalNote, Reading, TransferOffer, Twin
from twins.panels import annotate_list

# --- The things list: filters, sorts, keyset pages -------------------------------------------------------------

# ?sort=: (column, descending). "Last seen" is the latest reading's time (`latest_at`, kept on the row by every
# path that stores readings); `seen` is the same order as `latest`, named for the question an owner asks.
SORTS: dict[str, tuple[str, bool]] = {
    "name": ("name", False),
    "-name": ("name", True),
    "latest": ("latest_at", False),
    "-latest": ("latest_at", True),
    "seen": ("latest_at", False),
    "-seen": ("latest_at", True),
}
SORT_LABELS = {"name": "Name A–Z", "-name": "Name Z–A", "-latest": "Newest reading", "latest": "Oldest reading"}
# Columns that may be NULL sort as the smallest value: first ascending, last descending (SQLite's own order;
# PostgreSQL is told NULLS FIRST/LAST, and its index twin_active_latest_idx is built so).
_NULLABLE = {"latest_at"}

# A count that stops within this many matches (is anything matching?) walks as a page does (twins.listing.gathered).
_SHORT_WALK = 100
MAX_ATTR_EXPRESSIONS = 10
_ATTR_KEY_MAX = 60  # twins.services.MAX_ATTRIBUTE_KEY
_ATTR_VALUE_MAX = 500
_ATTR = re.compile(r"^\s*(?P<key>[^=!<>]+?)\s*(?:(?P<op>!=|>=|<=|=|>|<)\s*(?P<value>.*?))?\s*$", re.DOTALL)
# Attribute values are stored as text (twins.services.validate_attributes): one that reads as a number is compared
# as one. Digits are bounded so every match casts to a double on PostgreSQL (no out-of-range error), and the
# pattern means the same to PostgreSQL's `~` and to Python's re (SQLite's REGEXP, registered by Django).
_NUMBER = r"^ *[-+]?([0-9]{1,20}([.][0-9]{0,20})?|[.][0-9]{1,20})([eE][-+]?[0-9]{1,2})? *$"
_COMPARE = {">": GreaterThan, ">=": GreaterThanOrEqual, "<": LessThan, "<=": LessThanOrEqual}


@dataclass(frozen=True)
class AttrCondition:
    """One `attr` expression: `colour=red`, `colour!=red`, `weight>20` (also >=, <, <=), or `colour` (has one)."""

    key: str
    op: str = ""
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> AttrCondition:
        match = _ATTR.match(text)
        example = "Write attribute filters like colour=red, colour!=red, weight>20 or weight<=3.5."
        if match is None or not match["key"].strip():
            raise ValidationError({"attr": f"“{text[:60]}” is not an attribute filter. {example}"})
        key, op, value = match["key"].strip(), match["op"] or "", (match["value"] or "").strip()
        if len(key) > _ATTR_KEY_MAX:
            raise ValidationError({"attr": f"Attribute names are at most {_ATTR_KEY_MAX} characters."})
        if '"' in key:
            # SQLite's JSON paths cannot name a key with a double quote in it; refused on every database alike.
            raise ValidationError({"attr": 'An attribute name with a double quote (") in it cannot be filtered on.'})
        if op and not value:
            raise ValidationError({"attr": f"“{text[:60]}” has nothing after {op}. {example}"})
        if len(value) > _ATTR_VALUE_MAX:
            raise ValidationError({"attr": f"An attribute value is at most {_ATTR_VALUE_MAX} characters."})
        if op in _COMPARE:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise ValidationError(
                    {"attr": f"“{text[:60]}”: {op} compares numbers; give one, like {key}{op}20 or {key}{op}3.5."}
                )
        return cls(key=key, op=op, value=value)

    def condition(self, *, owner_id: int | None = None, others: bool = True) -> Q:
        """The condition on a thing. `owner_id`: the list's owner, whose things a numeric comparison finds through
        the index of twins_attribute_number on PostgreSQL (migration 0013); `others`: whether the list also holds
        other owners' things (kept ones), which are checked row by row."""
        if not self.op:
            return Q(attributes__has_key=self.key)
        if self.op in ("=", "!="):
            if connection.vendor == "postgresql":
                # Containment, so the GIN index twin_attributes_gin serves it.
                equal = Q(attributes__contains={self.key: self.value})
            else:
                # has_key first: a missing key's value is NULL, and NOT (NULL = 'red') would leave the thing out of !=.
                equal = Q(attributes__has_key=self.key) & Q(Exact(KeyTextTransform(self.key, "attributes"), self.value))
            # != also lists things without the attribute: their colour is not red either.
            return equal if self.op == "=" else ~equal
        text = KeyTextTransform(self.key, "attributes")
        number = Case(
            When(Regex(text, _NUMBER), then=Cast(text, FloatField())), default=None, output_field=FloatField()
        )
        per_row = Q(_COMPARE[self.op](number, float(self.value)))
        if owner_id is None or connection.vendor != "postgresql":
            return per_row
        # The owner's things from the index (an index range, however few match); the same values per_row casts:
        # the table holds exactly the attribute values that match _NUMBER, as double precision.
        # The operator is one of _COMPARE's four keys (parse() refused any other); the values are parameters.
        numbers = RawSQL(  # noqa: S611
            f"SELECT twin_id FROM twins_attribute_number WHERE owner_id = %s AND key = %s AND value {self.op} %s",  # noqa: S608
            [owner_id, self.key, float(self.value)],
        )
        # Few (weight>99.5: 500 of 100,000), gathered once a page and fetched by primary key: tested in the walk,
        # the set was probed on 9,000 rows of the name index before it had a page (twins.listing.gathered).
        indexed = gathered(Q(pk__in=numbers))
        return (Q(owner_id=owner_id) & indexed) | (~Q(owner_id=owner_id) & per_row) if others else indexed


def _when(raw: str, param: str) -> datetime | None:
    """A day (2026-01-31: its start, in the current time zone) or a time (2026-01-31T08:00:00Z); "" is None."""
    if not raw:
        return None
    try:
        moment = parse_datetime(raw)
        day = None if moment else parse_date(raw)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise ValidationError({param: f"“{raw[:40]}” is not a date: give one like 2026-01-31 or 2026-01-31T08:00Z."})
    if moment is None:
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _listed(params: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """Every value of a repeatable parameter (`attr=a&attr=b`, or `attr=a; b` in one box), stripped."""
    values = params.getlist(name) if hasattr(params, "getlist") else [params.get(name, "")]
    return tuple(part.strip() for value in values for part in str(value or "").split(";") if part.strip())


@dataclass(frozen=True)
class TwinFilters:
    query: str = ""
    lost: bool | None = None
    archived: bool = False
    # The features' filters (twins.listing): (query parameter, raw value) pairs, applied for the viewer.
    extra: tuple[tuple[str, str], ...] = ()
    # Attribute expressions (AttrCondition), as given; all must hold.
    attrs: tuple[str, ...] = ()
    kind: str = ""  # the thing's icon key
    model: str = ""  # the model, whole and ignoring case
    name: str = ""  # part of the name (served by a trigram index on PostgreSQL)
    seen_after: str = ""  # last seen (latest reading) at or after: a day or a time
    seen_before: str = ""  # last seen before
    sort: str = "name"

    # The query parameters these filters read (the features' own come from twins.listing).
    PARAMS: ClassVar[tuple[str, ...]] = (
        "q",
        "lost",
        "archived",
        "attr",
        "kind",
        "model",
        "name",
        "seen_after",
        "seen_before",
        "sort",
    )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TwinFilters:
        """The cards page's (and a selection's) filters from query parameters: one parser for every list. Values
        are kept as given; twin_list refuses a bad one (ValidationError with words)."""

        def text(name: str, limit: int = 120) -> str:
            return str(params.get(name, "") or "").strip()[:limit]

        return cls(
            query=text("q"),
            lost={"yes": True, "no": False, "true": True, "false": False}.get(text("lost").lower()),
            archived=text("archived").lower() in ("1", "true"),
            extra=filter_params(params),
            attrs=_listed(params, "attr")[: MAX_ATTR_EXPRESSIONS + 1],
            kind=text("kind", 40),
            model=text("model"),
            name=text("name"),
            seen_after=text("seen_after", 40),
            seen_before=text("seen_before", 40),
            sort=text("sort", 20) or "name",
        )

    def as_params(self) -> list[tuple[str, str]]:
        """Back to query parameters (the page's links): from_params(as_params()) gives these filters again."""
        pairs = [
            ("q", self.query),
            ("lost", {True: "yes", False: "no"}.get(self.lost, "")),
            ("archived", "1" if self.archived else ""),
            ("attr", "; ".join(self.attrs)),
            ("kind", self.kind),
            ("model", self.model),
            ("name", self.name),
            ("seen_after", self.seen_after),
            ("seen_before", self.seen_before),
            ("sort", "" if self.sort == "name" else self.sort),
            *self.extra,
        ]
        return [(key, value) for key, value in pairs if value]

    @property
    def narrowed(self) -> bool:
        """Whether anything narrows the list (the page says "No things match" rather than "No things yet")."""
        return bool(
            self.query
            or self.lost is not None
            or self.extra
            or self.attrs
            or self.kind
            or self.model
            or self.name
            or self.seen_after
            or self.seen_before
        )

    def conditions(self, *, owner_id: int | None = None, others: bool = True) -> Q:
        """The core's own filters as one condition; a bad value raises ValidationError naming its parameter.
        `owner_id`/`others`: the list's owner and whether other owners' things are in it (AttrCondition)."""
        if self.sort not in SORTS:
            choices = ", ".join(SORTS)
            raise ValidationError({"sort": f"Sort by one of {choices} (“{self.sort[:20]}” is not one)."})
        if len(self.attrs) > MAX_ATTR_EXPRESSIONS:
            raise ValidationError({"attr": f"At most {MAX_ATTR_EXPRESSIONS} attribute filters at once."})
        condition = Q()
        for expression in self.attrs:
            condition &= AttrCondition.parse(expression).condition(owner_id=owner_id, others=others)
        if self.kind:
            if self.kind not in ICONS:
                kinds = ", ".join(ICONS)
                raise ValidationError({"kind": f"“{self.kind[:20]}” is not a kind of thing; the kinds are {kinds}."})
            condition &= Q(icon=self.kind)
        if self.model:
            condition &= Q(model_name__iexact=self.model)
        if self.name:
            condition &= Q(name__icontains=self.name)
        after = _when(self.seen_after, "seen_after")
        before = _when(self.seen_before, "seen_before")
        if after is not None:
            condition &= Q(latest_at__gte=after)
        if before is not None:
            condition &= Q(latest_at__lt=before)
        if after is not None and before is not None and after >= before:
            raise ValidationError({"seen_before": "“Last seen before” must come after “last seen after”."})
        if self.lost is not None:
            condition &= Q(lost=self.lost)
        return condition


def _scoped(viewer, filters: TwinFilters, include_kept: bool) -> tuple[QuerySet[Twin], dict[int, str]]:
    """The viewer's things matching `filters`, unannotated and unordered, and the kept ones' badges."""
    kept = access.kept_twins(viewer) if include_kept else {}
    qs = Twin.objects.filter(Q(owner=viewer) | Q(pk__in=list(kept))) if kept else Twin.objects.owned_by(viewer)
    # A thing that moved to another host, or is still arriving from one, is not on anyone's list here.
    qs = (qs.archived() if filters.archived else qs.active()).live()
    condition = filters.conditions(owner_id=viewer.pk, others=bool(kept))
    if filters.query:
        condition &= search_condition(filters.query, viewer, others=bool(kept))
    qs = qs.filter(condition)
    if filters.extra:
        qs = apply_filters(qs, filters.extra, viewer)
    return qs, kept


def _annotated(qs: QuerySet[Twin], viewer, kept: dict[int, str]) -> QuerySet[Twin]:
    if kept:
        badges: dict[str, list[int]] = {}
        for twin_id, badge in kept.items():
            badges.setdefault(badge, []).append(twin_id)
        qs = qs.annotate(
            access_role=Case(
                When(owner=viewer, then=Value("")),
                *(When(pk__in=ids, then=Value(badge)) for badge, ids in badges.items()),
                default=Value(""),
            )
        )
    return annotate_list(qs)


def _order(sort: str, *, reverse: bool = False) -> list:
    column, descending = SORTS[sort]
    descending ^= reverse
    if column in _NULLABLE:
        # NULL is the smallest value: first going up, last going down (see _NULLABLE).
        key = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_first=True)
    else:
        key = F(column).desc() if descending else F(column).asc()
    return [key, F("id").desc() if descending else F("id").asc()]


def twin_list(*, viewer, filters: TwinFilters | None = None, include_kept: bool = False) -> QuerySet[Twin]:
    """The viewer's things, in the filters' sort order (id breaks ties), with the features' list annotations
    (twins.panels: a tag count) computed in the same query (one query per page, however many things).

    `include_kept`: also the things other owners let the viewer look after (twins.access providers: a keeper
    credential), each with `access_role` set to its badge ("keeper"); the viewer's own have none. Off by default:
    callers that act on the listed things (attach a tag, pick a thing for a connection) must see only their own.
    Costs one query per provider to find the kept things (none kept: the owner's query is exactly as before).

    A filter value it cannot use (`attr=weight>heavy`, an unknown sort or kind, a feature's refused value) raises
    ValidationError naming the parameter, in words."""
    filters = filters or TwinFilters()
    if not getattr(viewer, "is_authenticated", False):
        return Twin.objects.none()
    qs, kept = _scoped(viewer, filters, include_kept)
    return _annotated(qs, viewer, kept).order_by(*_order(filters.sort))


def twin_count(
    *, viewer, filters: TwinFilters | None = None, include_kept: bool = False, at_most: int | None = None
) -> int:
    """How many things twin_list lists, counted without its annotations: `twin_list(...).count()` would join and
    group every matching thing for the tag count (a quarter of a second at 100,000); this is an index-only count.
    `at_most`: stop counting there (the answer is then at most `at_most`), so a costly filter is not run over
    every thing. Raises ValidationError as twin_list does."""
    filters = filters or TwinFilters()
    if not getattr(viewer, "is_authenticated", False):
        return 0
    if at_most is not None and at_most <= _SHORT_WALK:
        qs = _scoped(viewer, filters, include_kept)[0]
    else:
        with whole_sets():  # a walk to a cap or to the end: a common set built once beats a test on every row
            qs = _scoped(viewer, filters, include_kept)[0]
    return qs.count() if at_most is None else qs.order_by().values("pk")[:at_most].count()


class BadCursor(ValidationError):
    def __init__(self, words: str) -> None:
        super().__init__({"cursor": words})


@dataclass(frozen=True)
class Cursor:
    """A position in the list: the sort key and id of a row, and which way to go from it (keyset paging: the next
    page is the rows after it in the sort order, found through the sort's index, never by counting an OFFSET).
    Opaque to clients (base64url of JSON); it carries nothing they could not see, so it needs no signature: a
    forged one only moves within the viewer's own list."""

    sort: str
    value: Any  # the sort column's value: a name, or latest_at (a datetime or None)
    pk: int
    backwards: bool = False  # the page before this row

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        data = json.dumps([self.sort, value, self.pk, int(self.backwards)], separators=(",", ":"))
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, *, sort: str) -> Cursor:
        lost = "This page link is not one this list gave out (or it was cut short): start again from the first page."
        try:
            # core.parsers.loads: `[[[[…` nested a thousand deep raised RecursionError (a 500), not ValueError.
            data = loads(base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4)))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise BadCursor(lost) from None
        if not (isinstance(data, list) and len(data) == 4 and data[0] in SORTS):
            raise BadCursor(lost)
        cursor_sort, value, pk, backwards = data
        if cursor_sort != sort:
            raise BadCursor("This page link belongs to another sort order: start again from the first page.")
        if not (isinstance(pk, int) and not isinstance(pk, bool) and 0 < pk < 2**63 and backwards in (0, 1)):
            raise BadCursor(lost)
        column, _ = SORTS[sort]
        if column in _NULLABLE and value is not None:
            try:
                moment = parse_datetime(value) if isinstance(value, str) else None
            except ValueError:  # well formed, out of range (month 13)
                moment = None
            if moment is None or timezone.is_naive(moment):
                raise BadCursor(lost)
            value = moment
        elif column not in _NULLABLE and not (isinstance(value, str) and len(value) <= 200):
            raise BadCursor(lost)
        return cls(sort=sort, value=value, pk=pk, backwards=bool(backwards))

    @classmethod
    def of(cls, twin: Twin, sort: str, *, backwards: bool = False) -> Cursor:
        return cls(sort=sort, value=getattr(twin, SORTS[sort][0]), pk=twin.pk, backwards=backwards)

    @property
    def up(self) -> bool:
        """Whether the rows past this one have larger sort keys (NULL the smallest)."""
        return SORTS[self.sort][1] == self.backwards

    def parts(self) -> list[Q]:
        """The rows past this one, going its way (forwards: after it in the sort order; backwards: before it), as
        conditions each one index range serves: a row comparison `(column, id) > (?, ?)`, which PostgreSQL's
        btree takes as where the scan starts (deep pages cost no more), and the NULL rows on their own."""
        column, _ = SORTS[self.sort]
        if self.value is None:  # a nullable column's row: the other NULLs by id, then (going up) every value
            nulls = Q(**{f"{column}__isnull": True, "id__gt" if self.up else "id__lt": self.pk})
            return [nulls, Q(**{f"{column}__isnull": False})] if self.up else [nulls]
        past = Q((TupleGreaterThan if self.up else TupleLessThan)(Tuple(column, "id"), (self.value, self.pk)))
        if column in _NULLABLE and not self.up:
            return [past, Q(**{f"{column}__isnull": True})]
        return [past]

    def beyond(self) -> Q:
        """parts() as one condition."""
        condition = Q()
        for part in self.parts():
            condition |= part
        return condition

    def page_ids(self, qs: QuerySet[Twin], limit: int) -> list[int]:
        """The ids of the first `limit` rows of `qs` past this one, in the order going its way. One query. Where
        parts() has two conditions, ORing them would leave PostgreSQL no index range to start from; each is
        LIMITed on its own instead (UNION ALL) and the two merged here. SQLite cannot LIMIT inside a UNION: it
        gets the OR, which it evaluates the same way (same rows, same order)."""
        order = _order(self.sort, reverse=self.backwards)
        parts = self.parts()
        if len(parts) == 1 or not connection.features.supports_slicing_ordering_in_compound:
            return list(qs.filter(self.beyond()).order_by(*order).values_list("pk", flat=True)[:limit])
        column, _ = SORTS[self.sort]
        # Written out rather than QuerySet.union(), which cannot keep an ORDER BY on a column it does not select.
        pieces = [qs.filter(part).order_by(*order).values_list("pk", column)[:limit].query for part in parts]
        compiled = [piece.sql_with_params() for piece in pieces]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(f"({sql})" for sql, _ in compiled), [p for _, ps in compiled for p in ps])
            rows = cursor.fetchall()
        smallest = datetime.min.replace(tzinfo=UTC)
        rows.sort(key=lambda row: (row[1] is not None, row[1] or smallest, row[0]), reverse=not self.up)
        return [pk for pk, _ in rows[:limit]]

    @classmethod
    def first_ids(cls, qs: QuerySet[Twin], sort: str, limit: int) -> list[int]:
        return list(qs.order_by(*_order(sort)).values_list("pk", flat=True)[:limit])


@dataclass
class CardsPage:
    """One keyset page of the list: its things and the cursors of the pages either side ("" when none)."""

    object_list: list[Twin]
    next_cursor: str = ""
    previous_cursor: str = ""
    size: int = 0
    links: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Twin]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def has_next(self) -> bool:
        return bool(self.next_cursor)

    def has_previous(self) -> bool:
        return bool(self.previous_cursor)

    def has_other_pages(self) -> bool:
        return self.has_next() or self.has_previous()


def twin_page(
    *,
    viewer,
    filters: TwinFilters | None = None,
    cursor: str = "",
    size: int = 24,
    include_kept: bool = False,
    fields: tuple[str, ...] = (),
) -> CardsPage:
    """One page of twin_list, by keyset: `cursor` (from a previous page's next_cursor or previous_cursor; "" for the
    first page) names the row to start after (or before). The same queries whatever the page's depth, however many
    things: two queries, the page's ids by the sort's index (`LIMIT size + 1` past the cursor's row), then those
    rows with the annotations (a tag count…), by primary key. `fields`: only these columns of the rows (and the
    id, owner and sort column; `.only()`), for a caller that reads no others (any other read is a query per row);
    empty: every column. A bad cursor raises ValidationError (`cursor`), in words."""
    filters = filters or TwinFilters()
    if not getattr(viewer, "is_authenticated", False):
        return CardsPage([], size=size)
    qs, kept = _scoped(viewer, filters, include_kept)
    position = Cursor.decode(cursor, sort=filters.sort) if cursor else None
    backwards = position is not None and position.backwards
    # Two steps, two queries: the page's ids by the sort's index, then those rows with the annotations. In one
    # query the annotations' GROUP BY would aggregate every matching thing before the LIMIT; as a subquery
    # (`id IN (SELECT ... LIMIT)`) the twins table gets an alias, which features' raw conditions naming the table
    # (inventory's attribute search) would not follow.
    ids = Cursor.first_ids(qs, filters.sort, size + 1) if position is None else position.page_ids(qs, size + 1)
    rows_qs = Twin.objects.filter(pk__in=ids)
    if fields:
        rows_qs = rows_qs.only("id", "owner_id", SORTS[filters.sort][0], *fields)
    rows = list(_annotated(rows_qs, viewer, kept).order_by(*_order(filters.sort))) if ids else []
    more = len(rows) > size
    if more:
        rows = rows[1:] if backwards else rows[:size]
    page = CardsPage(rows, size=size)
    if rows:
        # Going backwards, there is always a page after (the one we came from); going forwards, one before.
        if (more and not backwards) or backwards:
            page.next_cursor = Cursor.of(rows[-1], filters.sort).encode()
        if (more and backwards) or (position is not None and not backwards):
            page.previous_cursor = Cursor.of(rows[0], filters.sort, backwards=True).encode()
    return page


def twin_get(*, viewer, slug: str, need: str = access.OWNER) -> Twin:
    """One of the viewer's things, archived ones included; anyone else's is a 404, never a 403.

    `need`: a capability (twins.access) a non-owner may hold through a feature's credential (a keeper adds
    readings); the default, OWNER, keeps the route the owner's alone. The twin comes back with `access` (a
    twins.access.Access) saying what the viewer may do. One query for the owner; the providers are asked only
    when the viewer is not the owner, on every call (a revoked credential fails the next request)."""
    if not getattr(viewer, "is_authenticated", False):
        raise Http404("No such thing.")
    if need == access.OWNER:
        try:
            twin = Twin.objects.select_related("owner").get(slug=slug, owner=viewer)
        except Twin.DoesNotExist:
            raise _not_found(viewer, slug) from None
        if twin.moved_to or twin.arriving:
            # Not live here (twins.moving): its routes under /things/<slug>/ answer before this (twins.not_live);
            # any other way in finds nothing to act on.
            raise Http404("No such thing.")
        twin.access = access.OWNER_ACCESS
        return twin
    twin = Twin.objects.select_related("owner").filter(slug=slug, moved_to="", arriving=False).first()
    granted = access.access_for(viewer, twin) if twin is not None else None
    if granted is None or not granted.can(need):
        raise _not_found(viewer, slug)
    twin.access = granted
    return twin


def _not_found(viewer, slug: str) -> Http404:
    """The 404 for a thing the viewer may not open: a former owner (who sold or gave it away) is told so, on the
    project's page; anyone else learns nothing (the same 404 as for a slug that does not exist)."""
    sold = (
        TransferOffer.objects.filter(twin__slug=slug, seller=viewer, status=TransferOffer.Status.COMPLETED)
        .order_by("-completed_at")
        .first()
    )
    if sold is None:
        return Http404("No such thing.")
    when = f" on {sold.completed_at:%Y-%m-%d}" if sold.completed_at else ""
    # The name it had at the sale: the new owner's name for it is theirs.
    thing = f"“{sold.thing_name}”" if sold.thing_name else "this thing"
    return NotFoundExplained(
        f"You handed {thing} to its new owner{when}: it is no longer yours, so its page, readings "
        "and tags are theirs now. Your own things are under Things."
    )


def reading_list(
    *, twin: Twin, kind: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Reading]:
    """Readings of one (already access-checked) twin, newest first, optionally of one kind within [since, until)."""
    qs = Reading.objects.filter(twin=twin)
    if kind:
        qs = qs.filter(kind=kind)
    if since is not None:
        qs = qs.filter(time__gte=since)
    if until is not None:
        qs = qs.filter(time__lt=until)
    return qs.order_by("-time", "-id")


def chart_points(*, twin: Twin, limit: int = 500) -> list[dict]:
    """The most recent readings of the twin's main kind, oldest first, for the private page chart."""
    rows = list(reading_list(twin=twin, kind=twin.reading_kind).values_list("time", "value").order_by("-time")[:limit])
    rows.reverse()
    return [{"t": time.isoformat(), "v": value} for time, value in rows]


def note_get(*, twin: Twin, note_id: int) -> JournalNote:
    try:
        return JournalNote.objects.get(twin=twin, pk=note_id)
    except (JournalNote.DoesNotExist, ValueError, TypeError):
        raise Http404("No such note.") from None
