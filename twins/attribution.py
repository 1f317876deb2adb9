"""Who acted, as of when they acted: the one answer every history list gives the twin's current owner (and a
keeper looking after it), for scans, readings and journal notes alike (issue 14, finding 4).

A twin changes hands: what its seller recorded stays in the history the buyer receives, and must not read as the
buyer's own. The test is the row's `created_at` (when the server stored it), never its user-editable `time`: a
seller back-dating or post-dating a note cannot make it the buyer's. What a previous owner or their keepers did
is "a previous owner", without a name (a buyer does not learn who looked after the thing before). A keeper's own
entry of the current owner's time, when the row records its actor, names the keeper.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

YOU = "you"
PREVIOUS_OWNER = "a previous owner"
SOMEONE_ELSE = "someone else"


def acted_by(
    *,
    twin: Any,
    created_at: datetime | None,
    actor_id: int | None = None,
    by_owner: bool = True,
    viewer_id: int | None = None,
    names: dict[int, str] | None = None,
) -> str:
    """Who did what a row records, in words, for `viewer_id` (default: the twin's owner) reading it now.

    `created_at`: when the row was stored. `actor_id`: who recorded it, when known (None: the owner of the time).
    `by_owner`: false for what the owner of the time did not do (a stranger's scan). `names`: {user id: name} of
    the actors, from :func:`actor_names` (one query for a whole list).
    """
    if not by_owner and actor_id is None:
        return SOMEONE_ELSE
    if twin.owner_since is not None and created_at is not None and created_at < twin.owner_since:
        return PREVIOUS_OWNER
    viewer_id = twin.owner_id if viewer_id is None else viewer_id
    who = twin.owner_id if actor_id is None else actor_id
    if who == viewer_id:
        return YOU
    return (names or {}).get(who, SOMEONE_ELSE)


def actor_names(twin: Any, actor_ids: Iterable[int | None]) -> dict[int, str]:
    """{user id: username} of the actors of a list, and of the twin's owner (a keeper reads "alice")."""
    wanted = {actor_id for actor_id in actor_ids if actor_id is not None} | {twin.owner_id}
    return dict(get_user_model().objects.filter(pk__in=wanted).values_list("pk", "username"))


def attribute(rows: Iterable[Any], *, twin: Any, viewer_id: int | None = None) -> list[Any]:
    """The rows (readings, journal notes: anything with `created_at` and an optional `added_by_id`) as a list,
    each with `acted_by` set, and `acted_by_other` true when it is not the viewer's own (what a page shows)."""
    rows = list(rows)
    names = actor_names(twin, (getattr(row, "added_by_id", None) for row in rows))
    for row in rows:
        row.acted_by = acted_by(
            twin=twin,
            created_at=row.created_at,
            actor_id=getattr(row, "added_by_id", None),
            viewer_id=viewer_id,
            names=names,
        )
        row.acted_by_other = row.acted_by != YOU
    return rows
