"""What features add to the cards list (the things page and the things API), registered from their ``ready()``.

- a **search term** widens the search box: the core matches a thing's name, serial and model; a feature adds a
  condition (`term(query, viewer, others=...) -> Q`) ORed with those, evaluated in the list's one query. `others`
  says whether the list also holds other owners' things (kept ones); when it does not, a term should name only
  what indexes serve (`pk IN (...)` over the viewer's things, or indexed_set() with the same test on the row for
  when the set is common), so PostgreSQL can walk the list's index without reading each row (gathered());
- a **filter** narrows the list by a query parameter of the feature's (`?label=3`): it parses the raw value for
  the viewer (a bad one raises ValidationError with words) and narrows the queryset; it also offers the choices
  the cards page shows in its filter form;
- a **card badge** source says, for one page of cards, what small badges each card carries (a place, labels),
  in one query for the page;
- a **section** is HTML a feature shows above the cards (groups' own cards, the bulk action bar): it gets the
  request and the list's filters, and returns "" to show nothing;
- a **selection form**: when a feature names one, every card of the viewer's own things gets a checkbox bound to
  that form (`form="<id>"`, `name="thing"`, value the thing's slug); the feature renders the form in its section.

twins never imports a feature: with none installed the list searches its own fields and has no extra filters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from twins.models import Twin

# term(query, viewer, others=bool) -> a condition on Twin.
SearchTerm = Callable[..., Q]


@dataclass(frozen=True)
class ListFilter:
    param: str  # the query parameter, also the API's
    label: str  # the filter form's label ("Label", "Place")
    # apply(qs, raw value, viewer) -> the narrowed queryset; raises django ValidationError for a value it refuses.
    apply: Callable[[QuerySet, str, Any], QuerySet]
    # choices(viewer) -> [(value, text)] for the cards page's select (empty: no select shown).
    choices: Callable[[Any], list[tuple[str, str]]] = field(default=lambda viewer: [])
    help_text: str = ""
    order: int = 100


@dataclass(frozen=True)
class Badge:
    """A small badge on a card. `background`/`color` empty: the page's default badge colours."""

    text: str
    background: str = ""
    color: str = ""
    kind: str = ""


# pg_trgm finds a LIKE pattern's candidates from its runs of three letters or digits; without one it reads the
# whole index.
_TRIGRAM = re.compile(r"[^\W_]{3}")
# Past this many of the viewer's things with the query in their name (PostgreSQL's estimate), the search tests
# the name on each row instead of gathering them through the name's trigram index (_own_fields).
COMMON_NAME = 5_000

_terms: dict[str, SearchTerm] = {}
_filters: dict[str, ListFilter] = {}
_badges: dict[str, Callable[[Any, list[Any]], dict[int, list[Badge]]]] = {}
# section(request, filters) -> HTML ("" for nothing), shown above the cards in key order.
_sections: dict[str, Callable[[Any, Any], str]] = {}
_selection_form: list[str] = []
# Within one_request(), the sets of the viewer's own things a search or a filter names (each found through an index:
# names, serials and models, attribute values, notes, groups, numeric attributes) are gathered once (gathered());
# when they hold at most this many ids, the page and the selection bar's count fetch those by primary key. More, and
# each query walks the list testing its rows, which then meets a page of matches soon (each set is read up to this
# many).
GATHERED_IDS = 1_000

# Within one_request(): what the searches built so far asked (planner estimates; gathered ids), by its question.
_asked: ContextVar[dict[tuple, Any] | None] = ContextVar("listing_asked", default=None)
# Within whole_sets(): the query being built walks far (a count to its cap), so a common set stays a set.
_whole_sets: ContextVar[bool] = ContextVar("listing_whole_sets", default=False)


def register_search(key: str, term: SearchTerm) -> None:
    _terms[key] = term


def register_filter(list_filter: ListFilter) -> None:
    _filters[list_filter.param] = list_filter


def register_card_badges(key: str, badges_of: Callable[[Any, list[Any]], dict[int, list[Badge]]]) -> None:
    """`badges_of(viewer, twins)` -> {twin id: [Badge]} for one page of cards (one query, not one per card)."""
    _badges[key] = badges_of


def register_yes_no_filter(
    *,
    param: str,
    label: str,
    condition: Callable[[], Any],
    refusal: str,
    choices: list[tuple[str, str]],
    help_text: str,
    order: int = 100,
) -> None:
    """A filter of `?param=yes|no`: the things that meet `condition()` (an EXISTS over OuterRef("pk"): a condition
    on the row, not a GROUP BY of every thing) or those that do not; any other value is refused with `refusal`."""

    def apply(qs: QuerySet, raw: str, viewer: Any) -> QuerySet:
        if raw not in ("yes", "no"):
            raise ValidationError(refusal)
        met = condition()
        return qs.filter(met if raw == "yes" else ~met)

    register_filter(
        ListFilter(
            param=param, label=label, apply=apply, choices=lambda viewer: choices, help_text=help_text, order=order
        )
    )


def register_section(key: str, section: Callable[[Any, Any], str]) -> None:
    """`section(request, filters)` -> trusted HTML shown above the cards ("" shows nothing). Mark it safe yourself
    (render_to_string is): the page prints it as is."""
    _sections[key] = section


def register_selection_form(form_id: str) -> None:
    """Give every card of the viewer's own things a checkbox bound to the form `form_id` (one form only)."""
    _selection_form[:] = [form_id]


def sections(request: Any, filters: Any) -> list[str]:
    return [html for _, section in sorted(_sections.items()) if (html := section(request, filters))]


def selection_form() -> str:
    """The form the cards' checkboxes belong to, or "" (no checkboxes)."""
    return _selection_form[0] if _selection_form else ""


@contextmanager
def one_request() -> Iterator[None]:
    """One page's work: the searches built inside it (the cards and the selection bar's count build the same one)
    ask the planner for an estimate once, and gather their sets of ids once (gathered()), not once each."""
    if _asked.get() is not None:  # within one already (the cards page's, around the selectors' own)
        yield
        return
    token = _asked.set({})
    try:
        yield
    finally:
        _asked.reset(token)


@contextmanager
def whole_sets() -> Iterator[None]:
    """The conditions built inside are for a query that walks far (a count up to its cap of 1,001 matches, not a
    page of 25): gathered() keeps a common set as a set instead of its test on the row. Testing q=purple's
    attribute values on the row costs the page's walk ~200 rows, but a count's ~8,000 (99 ms against 62 ms for
    building the 12,000-row set once, loaded)."""
    token = _whole_sets.set(True)
    try:
        yield
    finally:
        _whole_sets.reset(token)


def once[T](key: tuple, compute: Callable[[], T]) -> T:
    """`compute()`, once per `key` within one_request() (the cards and the selection bar's check build the same
    filters: a group's ownership checked once a page); outside one_request(), every call. The key must name
    everything the answer depends on (the viewer's id, the value asked about): the answer lives only as long as
    the request."""
    asked = _asked.get()
    if asked is None:
        return compute()
    if ("once", key) not in asked:
        asked[("once", key)] = compute()
    return asked[("once", key)]


def _names_containing(query: str, viewer_id: int) -> float:
    """PostgreSQL's estimate of the viewer's things whose name contains `query`: planned, not run (the statistics
    ANALYZE keeps on the name's trigram index expression, migration twins 0010). Asked once within one_request()."""

    def estimate() -> float:
        plan = json.loads(Twin.objects.filter(owner_id=viewer_id, name__icontains=query).explain(format="json"))
        return float(plan[0]["Plan"]["Plan Rows"])

    return once(("twins.estimate", query, viewer_id), estimate)


class IndexedSet(RawSQL):
    """A set of the viewer's thing ids that an index finds (`SELECT twin_id FROM ... WHERE ...`, for `pk__in`), with
    `per_row`: the same test written on the row, for the rows of the list's walk. gathered() tests it on the row
    when the set holds more than GATHERED_IDS things: building a common set (an attribute value one thing in eight
    has: 12,000 rows read through a trigram index and rechecked) costs more than testing the few hundred rows the
    walk meets before it has a page. `per_row` must match exactly the things the set holds among the list's rows."""

    def __init__(self, sql: str, params: Sequence[Any], *, per_row: Q) -> None:
        super().__init__(sql, list(params))
        self.per_row = per_row


def indexed_set(sql: str, params: Sequence[Any], *, per_row: Q) -> Q:
    """`pk IN (sql)`, a set an index finds, that gathered() may test on the row as `per_row` (IndexedSet)."""
    return Q(pk__in=IndexedSet(sql, params, per_row=per_row))


def _set_sql(subquery: Any) -> tuple[str, list[Any]]:
    if isinstance(subquery, QuerySet):
        sql, params = subquery.order_by().query.get_compiler(connection=connection).as_sql()
        return sql, list(params)
    return subquery.sql, list(subquery.params)  # RawSQL


def _ids_array(ids: Iterable[int]) -> Q:
    # One array literal, written once (a list parameter is written out again in each query, an IN list bound id
    # by id). A constant array: the planner sees its few rows and fetches them by the primary key.
    return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", ["{" + ",".join(map(str, sorted(ids))) + "}"]))


def gathered(condition: Q) -> Q:
    """`condition` with its sets of ids gathered, for the queries of one page: within one_request() on PostgreSQL.

    `condition` is one set, `Q(pk__in=<subquery or RawSQL>)` found through an index (a filter's: the things with an
    attribute over a number, a group's members), or an OR of such sets and conditions on the row (a search's: names,
    serials, attribute values, notes, groups). Tested in the list's walk (in name or reading order, until it has a
    page), a set is a hashed subplan PostgreSQL builds whole and then tests on every row it walks: a set of a few
    things walked all 100,000 of the owner's things to find them, for the page and again for the selection bar's
    count. So the sets are read once a request (one query, each set up to GATHERED_IDS + 1 rows) and:
    - the sets holding at most GATHERED_IDS things between them become one constant array of their ids, from
      which the planner fetches the rows by primary key (and sorts them) when nothing else is ORed with them;
    - a set holding more that has a test on the row (IndexedSet) is tested on the row: its walk meets a page of
      matches soon, where the set would be read whole first (not within whole_sets(): a count walks far);
    - any other set stays as it was.
    The same things match in every form. Outside one_request(), on SQLite, or for any other shape of condition
    (AND, NOT): `condition` unchanged. The array holds ids read at the start of the request: every query of the
    request sees the same set, and the next request reads it again."""
    asked = _asked.get()
    if asked is None or connection.vendor != "postgresql" or condition.negated:
        return condition
    if len(condition.children) > 1 and condition.connector != Q.OR:
        return condition
    sets = [child for child in condition.children if _is_set(child)]
    if not sets:
        return condition
    compiled = [_set_sql(child[1]) for child in sets]
    key = ("ids", tuple((sql, tuple(params)) for sql, params in compiled))
    if key not in asked:
        # Each set LIMITed on its own: which one holds more than GATHERED_IDS things (counted before duplicates go:
        # past the LIMIT a set may be cut short). The parts are our compiled SQL; their values are parameters.
        sql = " UNION ALL ".join(
            f"(SELECT {n}, found.* FROM ({part}) AS found LIMIT %s)"  # noqa: S608
            for n, (part, _) in enumerate(compiled)
        )
        params = [p for _, ps in compiled for p in [*ps, GATHERED_IDS + 1]]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        found: list[set[int]] = [set() for _ in sets]
        counted = [0] * len(sets)
        for n, twin_id in rows:
            counted[n] += 1
            found[n].add(twin_id)
        asked[key] = [None if count > GATHERED_IDS else ids for count, ids in zip(counted, found, strict=True)]
    ids_of: list[set[int] | None] = asked[key]
    few = set().union(*(ids for ids in ids_of if ids is not None))
    children: list[Any] = []
    if len(few) > GATHERED_IDS:  # small sets, many between them: tested as they were
        children += [child for child, ids in zip(sets, ids_of, strict=True) if ids is not None]
    elif few:
        children.append(_ids_array(few))
    for child in condition.children:
        if not _is_set(child):
            children.append(child)
    row_tests = not _whole_sets.get()
    for child, ids in zip(sets, ids_of, strict=True):
        if ids is None:
            children.append(child[1].per_row if row_tests and isinstance(child[1], IndexedSet) else child)
    if not children:  # every set empty, nothing else: nothing matches
        return _ids_array(())
    if len(children) == 1:
        return children[0] if isinstance(children[0], Q) else Q(children[0])
    return Q(*children, _connector=Q.OR)


def _is_set(child: Any) -> bool:
    return isinstance(child, tuple) and child[0] == "pk__in" and not isinstance(child[1], list | tuple | set)


def _own_fields(query: str, viewer_id: int) -> Q:
    """PostgreSQL: the viewer's own things whose name, serial or model contains `query`, in the form that is cheap
    for how common the name term is. Serial and model come through their trigram indexes as one set, once per
    query; the name too, as a set of its own, when few things have it (a serial, one thing's name, a word of an
    attribute value): tested on the row, the list's walk in name order would test every name before it found few
    or none, and so would the selection bar's count. A common name (more than COMMON_NAME, or a query with no
    three letters or digits in a row, which a trigram index cannot narrow) is tested on the row: the walk meets a
    page of them soon, and the bar's count its cap, where the set would gather every one of them first."""
    serial_or_model = Twin.objects.filter(Q(serial__icontains=query) | Q(model_name__icontains=query))
    condition = Q(pk__in=serial_or_model.filter(owner_id=viewer_id).values("pk"))
    if not _TRIGRAM.search(query) or _names_containing(query, viewer_id) > COMMON_NAME:
        return Q(name__icontains=query) | condition
    return Q(pk__in=Twin.objects.filter(name__icontains=query, owner_id=viewer_id).values("pk")) | condition


def search_condition(query: str, viewer: Any, *, others: bool = True) -> Q:
    """The search box's condition: the thing's own fields, or any feature's term. `others`: the list also holds
    other owners' things (kept ones).

    On PostgreSQL the viewer's own things are found as _own_fields says (through trigram indexes, migrations twins
    0010 and 0013, and the name on the row when it is common); a kept thing is tested row by row. Every form finds
    the same things."""
    fields = Q(name__icontains=query) | Q(serial__icontains=query) | Q(model_name__icontains=query)
    viewer_id = getattr(viewer, "pk", None)
    postgres = connection.vendor == "postgresql" and viewer_id is not None
    if postgres:
        condition = _own_fields(query, viewer_id)
        if others:
            condition |= ~Q(owner_id=viewer_id) & fields
    else:
        condition = fields
    for _, term in sorted(_terms.items()):
        condition |= term(query, viewer, others=others)
    return gathered(condition) if postgres else condition


def filters() -> list[ListFilter]:
    return sorted(_filters.values(), key=lambda item: (item.order, item.param))


def filter_params(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The registered filters' non-empty values among request parameters, for TwinFilters.extra."""
    return tuple(
        (item.param, str(params[item.param]).strip()[:100])
        for item in filters()
        if str(params.get(item.param, "")).strip()
    )


def apply_filters(qs: QuerySet, values: Iterable[tuple[str, str]], viewer: Any) -> QuerySet:
    for param, raw in values:
        if param in _filters:
            qs = _filters[param].apply(qs, raw, viewer)
    return qs


def filter_controls(viewer: Any, values: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """For the cards page's filter form: [{"param", "label", "choices", "value"}] of the filters with choices."""
    chosen = dict(values)
    controls = []
    for item in filters():
        choices = item.choices(viewer)
        if choices:
            controls.append(
                {"param": item.param, "label": item.label, "choices": choices, "value": chosen.get(item.param, "")}
            )
    return controls


def attach_badges(viewer: Any, twins: list[Any]) -> None:
    """Set `feature_badges` (a list of Badge) on each twin of one page of cards."""
    found: dict[int, list[Badge]] = {}
    for _, badges_of in sorted(_badges.items()):
        for twin_id, badges in badges_of(viewer, twins).items():
            found.setdefault(twin_id, []).extend(badges)
    for twin in twins:
        twin.feature_badges = found.get(twin.pk, [])
