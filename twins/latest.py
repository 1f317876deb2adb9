"""A thing's "latest" value (``Twin.latest_value/latest_unit/latest_at``) only advances in time (SECURITY 33).

The one rule, whatever stores the reading (a page, the API, a webhook, MQTT): the candidate is the newest reading
of the thing's own reading kind (:func:`newest_of_kind`); it becomes the latest unless the latest is strictly
newer. A reading of the same time as the latest replaces it (the later write wins a tie), an older one never moves
it backwards, not even when it arrives late or races a newer one: the condition is part of the UPDATE, checked by
the database on the row it updates, never read first and written after.

Three writers, one rule:

- :func:`latest_advance`: the ORM's conditional UPDATE, for every path that stores readings through Python (a
  manual reading, twins.services.reading_add; ingested messages on SQLite, ingest.store);
- :data:`ADVANCES_SQL`: the same condition as SQL text, for hand-written statements that fold the update into a
  round trip they make anyway (ingest.store's batches, where it rides on the things' lock statement);
- the mirror that cannot import Python: PostgreSQL's ``ingest_store_small`` (ingest/migrations/0004), which writes
  a small ingested message in one call and states :data:`ADVANCES_SQL` word for word. A migration replacing that
  function must keep it; tests/ingest/test_latest.py holds all three to the same outcomes (older, equal, newer).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from twins.models import Reading, Twin

# The condition on the thing's row `t` for the candidate reading `n` (its `time`): SQL text for hand-written
# statements. ``ingest_store_small`` (ingest/migrations/0004_store_small_function.py) has it verbatim.
ADVANCES_SQL = "(t.latest_at IS NULL OR t.latest_at <= n.time)"


def advances(time: datetime) -> Q:
    """:data:`ADVANCES_SQL` for the ORM: a reading of `time` may become the latest of the row it filters."""
    return Q(latest_at__isnull=True) | Q(latest_at__lte=time)


def newest_of_kind(twin: Twin, readings: Iterable[Reading]) -> Reading | None:
    """The reading that may become the thing's "latest": the newest of its own reading kind (the first of equals)."""
    kind = twin.reading_kind
    return max((r for r in readings if r.kind == kind), key=lambda r: r.time, default=None)


def latest_advance(*, twin: Twin, readings: Iterable[Reading]) -> Reading | None:
    """Make the newest of `readings` of the thing's kind its latest, unless its latest is newer: one conditional
    UPDATE, in the caller's transaction. The reading that became the latest, or None (none of the thing's kind, or
    an older one)."""
    newest = newest_of_kind(twin, readings)
    if newest is None:
        return None
    moved = (
        Twin.objects.filter(pk=twin.pk)
        .filter(advances(newest.time))
        .update(latest_value=newest.value, latest_unit=newest.unit, latest_at=newest.time)
    )
    return newest if moved else None
