"""The bulk actions a selection of things can take, registered by the apps that own them (from their ``ready()``).

Two shapes:

- a **per-thing** action (`per_twin`) changes one thing at a time: the job runner (bulk.jobs) calls it for each
  selected thing in its own transaction, inline for a few, in the task worker with live progress for many, and
  records a refusal (`ActionRefused`) as that thing's failure without stopping the others; cancelling stops
  between things. Add to a group, set an attribute, lost/found, archive, grant a data kind.
- a **whole-selection** action (`whole`) answers the request itself: a download (CSV export, bundle), a sheet
  (labels) or a page of its own (a handover offer for all the things at once, all or nothing).

An action's parameters come from its `form` (a Django form built as ``form(data, owner=owner)``), whose
`cleaned_data` must be JSON (ids and strings, not model instances): a per-thing job stores them and the worker
gets them back as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse


class ActionRefused(Exception):
    """One thing refused the action; the message says why in words (listed on the job's result page)."""


# per_twin(twin, params, owner) -> None; raises ActionRefused for this thing.
PerTwin = Callable[[Any, Mapping[str, Any], Any], None]
# whole(request, twins, params) -> the answer; `twins` is the owner's selection (their own things only).
Whole = Callable[[HttpRequest, QuerySet, Mapping[str, Any]], HttpResponse]


@dataclass(frozen=True)
class BulkAction:
    key: str  # in URLs and the API: "add-to-group"
    label: str  # the action menu's words: "Add to group"
    per_twin: PerTwin | None = None
    whole: Whole | None = None
    form: Any = None  # a Form class taking (data, owner=...) for the parameters, or None
    # Shown in the confirmation step ("Archive 2,143 things?"): actions that are hard to undo ask first.
    confirm: bool = False
    order: int = 100
    # The confirmation's question, `{things}` for the count ("Archive {things}?" -> "Archive 2,143 things?");
    # empty: "<label>: 2,143 things?".
    question: str = ""

    def __post_init__(self) -> None:
        if (self.per_twin is None) == (self.whole is None):
            raise ValueError(f"bulk action {self.key!r} needs exactly one of per_twin and whole")

    def ask(self, things: str) -> str:
        """The confirmation's question for `things` ("2,143 things")."""
        return self.question.format(things=things) if self.question else f"{self.label}: {things}?"


_actions: dict[str, BulkAction] = {}


def register_action(action: BulkAction) -> None:
    _actions[action.key] = action


def actions() -> list[BulkAction]:
    return sorted(_actions.values(), key=lambda item: (item.order, item.key))


def action_get(key: str) -> BulkAction | None:
    return _actions.get(key)
