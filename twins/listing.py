"""What features add to the cards list (the things page and the things API), registered from their ``ready()``.

- a **search term** widens the search box: the core matches a thing's name, serial and model; a feature adds a
  condition (`term(query, viewer, others=...) -> Q`) ORed with those, evaluated in the list's one query. `others`
  says whether the list also holds other owners' things (kept ones); when it does not, a term should name only
  what indexes serve (`pk IN (...)` over the viewer's things), so PostgreSQL can walk the list's index without
  reading each row;
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
from collections.abc import Callable, Iterable, Iterator, Mapping
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
# Within one_request(), a search's sets of the viewer's own things (each found through an index: names, serials
# and models, attribute values, notes, groups) are gathered once; when they hold at most this many ids, the page and
# the selection bar's count fetch those by primary key. More, and each query walks the list testing every row
# against the sets, which then meets a page of matches soon (the gathering stops reading at this many).
GATHERED_IDS = 1_000

# Within one_request(): what the searches built so far asked (planner estimates; gathered ids), by its question.
_asked: ContextVar[dict[tuple, Any] | None] = ContextVar("listing_asked", default=None)


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
    ask the planner for an estimate once, and gather their sets of ids once (_gathered), not once each."""
    token = _asked.set({})
    try:
        yield
    finally:
        _asked.reset(token)


def _names_containing(query: str, viewer_id: int) -> float:
    """PostgreSQL's estimate of the viewer's things whose name contains `query`: planned, not run (the statistics
    ANALYZE keeps on the name's trigram index expression, migration twins 0010). Asked once within one_request()."""
    asked = _asked.get()
    if asked is not None and ("estimate", query, viewer_id) in asked:
        return asked[("estimate", query, viewer_id)]
    plan = json.loads(Twin.objects.filter(owner_id=viewer_id, name__icontains=query).explain(format="json"))
    estimate = float(plan[0]["Plan"]["Plan Rows"])
    if asked is not None:
        asked[("estimate", query, viewer_id)] = estimate
    return estimate


def _set_sql(subquery: Any) -> tuple[str, list[Any]]:
    if isinstance(subquery, QuerySet):
        sql, params = subquery.order_by().query.get_compiler(connection=connection).as_sql()
        return sql, list(params)
    return subquery.sql, list(subquery.params)  # RawSQL


def _gathered(condition: Q, key: tuple) -> Q:
    """Within one_request() on PostgreSQL: `condition` (an OR of `pk IN (subquery)` sets, each found through an
    index) as one set of their ids when they are few, gathered in one query (UNION ALL) once a request. ORed, the
    sets are hashed subplans PostgreSQL tests on every row it walks in the list's order: a search that matches a
    few things (a serial) walked all 100,000 of the owner's things to find them, for the page and again for the
    selection bar's count; from a few ids the planner fetches them by primary key. A condition with anything
    tested on the row (a common name, a kept thing's fields), or with more than GATHERED_IDS ids, stays as it was:
    its walk meets a page of matches soon."""
    asked = _asked.get()
    if asked is None or condition.connector != Q.OR or condition.negated:
        return condition
    if not condition.children or not all(_is_set(child) for child in condition.children):
        return condition
    if ("ids", key) not in asked:
        compiled = [_set_sql(child[1]) for child in condition.children]
        sql = " UNION ALL ".join(f"({part})" for part, _ in compiled)
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} LIMIT %s", [p for _, ps in compiled for p in ps] + [GATHERED_IDS + 1])
            rows = cursor.fetchall()
        # Counted before the duplicates go (a thing found two ways): past the LIMIT the set may be cut short.
        found = sorted({row[0] for row in rows})
        asked[("ids", key)] = None if len(rows) > GATHERED_IDS else "{" + ",".join(map(str, found)) + "}"
    ids = asked[("ids", key)]
    if ids is None:
        return condition
    # One array literal, written once (a list parameter is written out again in each query, an IN list bound id
    # by id). A constant array: the planner sees its few rows and fetches them by the primary key.
    return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))


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
    return _gathered(condition, (query, viewer_id, others)) if postgres else condition


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
