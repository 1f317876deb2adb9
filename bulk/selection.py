"""A selection of things: chosen one by one on the cards page, or "all matching" the cards page's filters.

Only the viewer's own things are ever selected (not those kept for others): every bulk action changes things, and
only their owner may.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import QueryDict

from twins import listing, selectors
from twins.models import Twin

MAX_PICKED = 5000  # things chosen one by one (checkboxes); "all matching" has no limit


def _values(params: Mapping[str, Any], key: str) -> list[str]:
    if hasattr(params, "getlist"):
        return [str(value) for value in params.getlist(key)]
    value = params.get(key)
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [] if value is None else [str(value)]


@dataclass(frozen=True)
class Selection:
    # The cards page's query string (filters, search, archived) that "all matching" means; also narrows `slugs`.
    query: str = ""
    # Chosen one by one; empty means every thing matching `query`.
    slugs: Sequence[str] = field(default_factory=tuple)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], slugs: Sequence[str] = ()) -> Selection:
        """From the cards page's parameters (`q`, `lost`, `archived` and the features' filters) and checked slugs.
        A repeated parameter (`attr=colour=red&attr=size=S`, a QueryDict's list, or a list in JSON) keeps every
        value: all of them narrow the page, so all of them narrow the selection."""
        kept = {*selectors.TwinFilters.PARAMS, *(item.param for item in listing.filters())}
        pairs = [(key, value) for key in sorted(kept) for value in _values(params, key) if value.strip()]
        return cls(query=urlencode(pairs), slugs=tuple(dict.fromkeys(str(slug) for slug in slugs if slug)))

    def filters(self) -> selectors.TwinFilters:
        return selectors.TwinFilters.from_params(QueryDict(self.query))

    def twins(self, owner: Any) -> QuerySet[Twin]:
        """The selected things, the owner's own only, in the cards page's order. A feature's filter may raise
        ValidationError for a value it refuses."""
        qs = selectors.twin_list(viewer=owner, filters=self.filters())
        if self.slugs:
            qs = qs.filter(slug__in=list(self.slugs)[:MAX_PICKED])
        return qs

    def as_json(self) -> dict[str, Any]:
        return {"query": self.query, "slugs": list(self.slugs)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Selection:
        return cls(query=str(data.get("query", "")), slugs=tuple(str(slug) for slug in data.get("slugs", ())))
