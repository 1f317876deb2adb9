"""The steps of a move that call the other instance, one row at a time, each safe to run again.

Each step claims its row (:func:`claim`: a conditional UPDATE of ``claimed_until``, so two workers never take the
same step, and a worker killed mid-step leaves the row to be claimed again once its lease ends), makes its call
outside any transaction (a slow peer holds no lock), and records the outcome only if its claim still stands
(:func:`finish`). A temporary failure schedules the next attempt (:func:`backoff`); the periodic job takes it
then. Which side runs which step:

- destination (B): :func:`send_request` (step 1), :func:`poll_source` (while waiting: did the source's owner
  cancel, or let the request expire?), :func:`announce_arrival` (step 4, then step 5), :func:`send_cancel`;
- source (A): :func:`push_package` (step 2).

Logs name a move by its public id and state only: never a token, a key or anything of the package.
"""

from __future__ import annotations

import hashlib
import logging
import urllib.parse
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import BinaryField, Q
from django.db.models.functions import Length, Substr
from django.utils import timezone

from moves import bearer, chunks
from moves.client import PUSH_TIMEOUT, CallError, call
from moves.models import MoveIn, MoveOut
from owners.keys import owner_keys_ensure
from ssi import webvh
from ssi.errors import DIDError
from twins import leaving, moving
from twins.models import Twin

log = logging.getLogger(__name__)

# How long a claimed step may take before another worker may take it again (the push may take PUSH_TIMEOUT).
LEASE = timedelta(seconds=PUSH_TIMEOUT + 60)
# While waiting for the source's owner to confirm, how often the destination asks how its request stands.
POLL_EVERY = timedelta(minutes=5)
# A request unconfirmed for this long expires, on both sides.
REQUEST_LIFETIME = timedelta(hours=24)
MAX_BACKOFF = 3600.0
# The source's chunk when pushing a package (at most what the destination says it takes in one request):
# MOVES_PUSH_CHUNK_BYTES, default 8 MiB; never below MIN_CHUNK, whatever the destination says.
DEFAULT_PUSH_CHUNK_BYTES = 8 * 1024 * 1024
MIN_CHUNK = 4096


def backoff(attempts: int, now: datetime) -> datetime:
    """When to try again after ``attempts`` failed attempts: 30 s, 1 min, 2 min… at most an hour (the base is
    MOVES_BACKOFF_SECONDS, default 30; tests across instances make it shorter)."""
    base = float(getattr(settings, "MOVES_BACKOFF_SECONDS", 30))
    return now + timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def claim(model: type[models.Model], pk: int, states: tuple[str, ...], *, due_only: bool = True) -> Any:
    """The row, claimed for one attempt at its pending step; None if it is not in ``states``, not due, or another
    worker holds it."""
    now = timezone.now()
    rows = model.objects.filter(pk=pk, state__in=states).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    if due_only:
        rows = rows.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    until = now + LEASE
    if not rows.update(claimed_until=until):
        return None
    # A source's sealed package may be a gigabyte: it is read a chunk at a time (push_package), never whole here.
    row = (model.objects.defer("sealed") if model is MoveOut else model.objects).get(pk=pk)
    row._claim = until  # what finish() checks: our claim, not a later worker's
    return row


def renew(row: Any) -> bool:
    """Extend the claim on ``row`` by another lease (a long push, chunk after chunk); False if it lapsed."""
    until = timezone.now() + LEASE
    if not type(row).objects.filter(pk=row.pk, claimed_until=row._claim).update(claimed_until=until):
        return False
    row._claim = until
    return True


def finish(row: Any, *, state_was: str | None = None, **fields: Any) -> bool:
    """Record a step's outcome on ``row`` and release the claim, unless the claim lapsed (another worker took the
    step since) or, with ``state_was``, the state changed meanwhile (a cancel). Whether it was recorded."""
    rows = type(row).objects.filter(pk=row.pk, claimed_until=row._claim)
    if state_was is not None:
        rows = rows.filter(state=state_was)
    done = bool(rows.update(claimed_until=None, **fields))
    if not done:
        type(row).objects.filter(pk=row.pk, claimed_until=row._claim).update(claimed_until=None)
    return done


def failed_attempt(row: Any, exc: CallError) -> None:
    """A temporary failure: count it, say it, schedule the next attempt."""
    now = timezone.now()
    finish(
        row,
        state_was=row.state,
        attempts=row.attempts + 1,
        error=str(exc)[:300],
        next_attempt_at=backoff(row.attempts + 1, now),
    )
    log.info("move %s: %s failed (attempt %s), retrying later", row.public_id, row.state, row.attempts + 1)


def end(row: Any, state: str, error: str) -> None:
    """A permanent outcome other than success: cancelled, expired or failed, with the reason."""
    # Nothing of the package (source) or of the move's key and token (destination) stays behind.
    extra = {"sealed": None} if isinstance(row, MoveOut) else MoveIn.forget_secrets()
    ended = finish(
        row, state_was=row.state, state=state, error=error[:300], ended_at=timezone.now(), next_attempt_at=None, **extra
    )
    if isinstance(row, MoveOut):
        # The twin stays here: it takes writes again, unless this outcome was not recorded (the claim lapsed, or a
        # cancel came first) or another move of it is on its way (its package was sealed: nothing may change here).
        others = MoveOut.objects.filter(twin_id=row.twin_id, state__in=MoveOut.IN_FLIGHT).exclude(pk=row.pk)
        if ended and not others.exists():
            leaving.thaw(row.twin_id)
    else:
        chunks.forget(row)  # what arrived of a package, unopened
    log.info("move %s: %s", row.public_id, state)


# -- destination (B) ----------------------------------------------------------------------------------------------


def request_body(move: MoveIn) -> dict[str, Any]:
    """Step 1's body: what the source needs to confirm, build the move entries and seal the package."""
    keys = move.owner_thing_keys(owner_keys_ensure(owner=move.owner))
    return {
        "id": move.public_id,
        "did": move.asked_for,
        "destination": settings.SITE_URL,
        "destination_did_domain": settings.DID_DOMAIN,
        "key": move.key_public,
        "token": bearer.opened(move.token_sealed),
        "owner_update_key": keys.update_key,
        "owner_next_key_hash": keys.next_key_hash,
    }


def send_request(move_id: int, *, due_only: bool = True) -> CallError | None:
    """Step 1 on the destination: ask the source; on its 201 the move waits for the owner's confirmation there.
    Returns the permanent refusal, if the source refused (the row is then failed), else None."""
    move = claim(MoveIn, move_id, (MoveIn.State.NEW,), due_only=due_only)
    if move is None:
        return None
    try:
        answer = call("POST", f"{move.source_url}/api/moves/requests", json_body=request_body(move))
    except CallError as exc:
        if exc.permanent:
            end(move, MoveIn.State.FAILED, str(exc))
            return exc
        failed_attempt(move, exc)
        return None
    data = answer.data
    did = data.get("did") if isinstance(data.get("did"), str) else ""
    try:
        scid = webvh.parse_did(did).scid if did else ""
    except DIDError:
        did, scid = "", ""
    if move.did and did and did != move.did:
        end(move, MoveIn.State.FAILED, "The old host answered about another thing than the one asked for.")
        return CallError("the old host answered about another thing", permanent=True)
    remote_id = str(data.get("id") or "")[:64]
    confirm_url = str(data.get("confirm_url") or "")[:500]
    # Shown as a link on the owner's page: an http(s) URL only (A names itself by its own SITE_URL, which need not
    # be the address we reach it at).
    if not remote_id or not confirm_url.lower().startswith(("https://", "http://")):
        failed_attempt(move, CallError("the old host's answer is incomplete", permanent=False))
        return None
    finish(
        move,
        state_was=MoveIn.State.NEW,
        state=MoveIn.State.REQUESTED,
        remote_id=remote_id,
        confirm_url=confirm_url,
        remote_state="requested",
        did=move.did or did,
        scid=move.scid or scid,
        requested_at=timezone.now(),
        attempts=0,
        error="",
        next_attempt_at=timezone.now() + POLL_EVERY,
    )
    log.info("move %s: requested", move.public_id)
    return None


def poll_source(move_id: int) -> None:
    """While the destination waits for the package: ask the source how the request stands, so the status page
    can say (confirmed, cancelled or expired there)."""
    move = claim(MoveIn, move_id, (MoveIn.State.REQUESTED,))
    if move is None:
        return
    try:
        answer = call(
            "GET", f"{move.source_url}/api/moves/requests/{move.remote_id}", token=bearer.opened(move.token_sealed)
        )
    except CallError as exc:
        if exc.status in (401, 404):  # the source no longer knows this request
            end(move, MoveIn.State.FAILED, "Your old host no longer knows this move.")
        else:
            finish(
                move,
                state_was=MoveIn.State.REQUESTED,
                error=str(exc)[:300],
                next_attempt_at=timezone.now() + POLL_EVERY,
            )
        return
    state = str(answer.data.get("state") or "")
    if state in (MoveOut.State.CANCELLED, MoveOut.State.EXPIRED, MoveOut.State.FAILED):
        ended = {
            MoveOut.State.CANCELLED: (MoveIn.State.CANCELLED, "Cancelled on your old host."),
            MoveOut.State.EXPIRED: (MoveIn.State.EXPIRED, "Not confirmed on your old host in time."),
            MoveOut.State.FAILED: (MoveIn.State.FAILED, str(answer.data.get("error") or "Failed on your old host.")),
        }[state]
        end(move, *ended)
        return
    finish(
        move,
        state_was=MoveIn.State.REQUESTED,
        remote_state=state[:16],
        error="",
        next_attempt_at=timezone.now() + POLL_EVERY,
    )


def announce_arrival(move_id: int) -> None:
    """Step 4 on the destination: tell the source the twin arrived (with the package's SHA-256); on its 200 the
    source has let go (the move entries are in its log), so step 5: the twin goes live here."""
    move = claim(MoveIn, move_id, (MoveIn.State.ARRIVED,))
    if move is None:
        return
    try:
        call(
            "POST",
            f"{move.source_url}/api/moves/requests/{move.remote_id}/arrived",
            token=bearer.opened(move.token_sealed),
            json_body={"sha256": move.sha256},
        )
    except CallError as exc:
        if exc.status == 410:  # cancelled on the source before it let go: the twin never goes live here
            discard_arrival(move, "Cancelled on your old host before the move finished.")
        elif exc.permanent:
            end(move, MoveIn.State.FAILED, str(exc))
        else:
            failed_attempt(move, exc)
        return
    with transaction.atomic():
        locked = MoveIn.objects.select_for_update().get(pk=move.pk)
        if locked.state != MoveIn.State.ARRIVED or locked.claimed_until != move._claim:
            return
        moving.activate(Twin.objects.select_for_update().get(pk=locked.twin_id))
        finish(
            move,
            state_was=MoveIn.State.ARRIVED,
            state=MoveIn.State.DONE,
            done_at=timezone.now(),
            remote_state=MoveOut.State.DONE,
            error="",
            next_attempt_at=None,
            **MoveIn.forget_secrets(),
        )
    log.info("move %s: done", move.public_id)


def discard_arrival(move: MoveIn, reason: str) -> None:
    """The source cancelled after the package arrived here: the arriving twin must never go live. Ends the move
    (and its claim, if it holds one)."""
    with transaction.atomic():
        locked = MoveIn.objects.select_for_update().get(pk=move.pk)
        if locked.state not in MoveIn.OPEN:
            return
        twin = Twin.objects.filter(pk=locked.twin_id).first()
        if twin is not None and twin.arriving:
            moving.discard(twin)
        MoveIn.objects.filter(pk=locked.pk).update(
            state=MoveIn.State.CANCELLED,
            error=reason[:300],
            ended_at=timezone.now(),
            next_attempt_at=None,
            claimed_until=None,
            **MoveIn.forget_secrets(),
        )
    chunks.forget(move)
    log.info("move %s: cancelled after arrival", move.public_id)


def send_cancel(move: MoveIn) -> CallError | None:
    """Tell the source the destination's owner cancelled (before the package arrived, best effort: a source that
    does not hear it learns it when its push is refused). Returns the failure, if any. What arrived here of a
    package goes now (a cancel of an arrived move ends in :func:`discard_arrival`, which also drops it)."""
    chunks.forget(move)
    if not move.remote_id:
        return None
    try:
        call(
            "POST",
            f"{move.source_url}/api/moves/requests/{move.remote_id}/cancel",
            token=bearer.opened(move.token_sealed),
        )
    except CallError as exc:
        return exc
    return None


# -- source (A) ---------------------------------------------------------------------------------------------------


class LeaseLost(Exception):
    """Another worker took the step while this one pushed (this one's claim lapsed): it stops."""


def sealed_length(move_id: int) -> int:
    """How many bytes the source's sealed package has (0: none), without reading it."""
    rows = MoveOut.objects.filter(pk=move_id, sealed__isnull=False).annotate(n=Length("sealed"))
    return int(rows.values_list("n", flat=True).first() or 0)


def sealed_slice(move_id: int, offset: int, length: int) -> bytes:
    """``length`` bytes of the sealed package from ``offset`` (the database cuts them: memory stays a chunk)."""
    part = Substr("sealed", offset + 1, length, output_field=BinaryField())
    value = MoveOut.objects.filter(pk=move_id).annotate(part=part).values_list("part", flat=True).first()
    return bytes(value or b"")


def sealed_sha256(move_id: int, size: int) -> str:
    """SHA-256 (hex) of the sealed package, read a chunk at a time."""
    digest = hashlib.sha256()
    for offset in range(0, size, DEFAULT_PUSH_CHUNK_BYTES):
        digest.update(sealed_slice(move_id, offset, DEFAULT_PUSH_CHUNK_BYTES))
    return digest.hexdigest()


def _push_chunks(move: MoveOut, size: int) -> dict[str, Any]:
    """Push the sealed package in chunks from where the destination's copy ends (moves.chunks); the answer to
    the chunk that completed it (with the plaintext's ``sha256``). CallError as :func:`call`; LeaseLost."""
    url = f"{move.destination_url}/api/moves/{move.remote_id}/package/chunks"
    token = bearer.opened(move.token_sealed)
    whole = sealed_sha256(move.pk, size)
    own = int(getattr(settings, "MOVES_PUSH_CHUNK_BYTES", DEFAULT_PUSH_CHUNK_BYTES))

    def held() -> dict[str, Any]:
        return call("GET", f"{url}?{urllib.parse.urlencode({'sealed_sha256': whole})}", token=token).data

    state = held()
    for _ in range(size // MIN_CHUNK + 3):
        offset = state.get("offset")
        if not isinstance(offset, int) or not 0 <= offset <= size:
            raise CallError("the new host answered an offset outside the package", permanent=True)
        taken = state.get("chunk_bytes")
        step = max(MIN_CHUNK, min(taken if isinstance(taken, int) else own, own))
        body = sealed_slice(move.pk, offset, step) if offset < size else b""
        query = urllib.parse.urlencode({"sealed_sha256": whole, "offset": offset, "size": size})
        try:
            state = call(
                "POST",
                f"{url}?{query}",
                token=token,
                body=body,
                content_type="application/octet-stream",
                timeout=PUSH_TIMEOUT,
            ).data
        except CallError as exc:
            if exc.status != 409:
                raise
            state = held()  # another offset than the destination's: go on from where its copy ends
            if state.get("offset") == offset:
                raise  # not about the offset: the package itself is refused
        if "sha256" in state:
            return state
        if not renew(move):
            raise LeaseLost
    raise CallError("the new host took no more of the package", permanent=False)


def push_package(move_id: int) -> None:
    """Step 2 on the source: push the sealed package to the destination, in chunks it takes (a package may be
    larger than one request), until it answers with the SHA-256 of what it opened (it restored the twin, not live
    yet). A push cut short goes on later from where the destination's copy ends."""
    move = claim(MoveOut, move_id, (MoveOut.State.CONFIRMED,))
    if move is None:
        return
    size = sealed_length(move.pk)
    if not size:
        end(move, MoveOut.State.FAILED, "The package is missing.")
        return
    try:
        answer = _push_chunks(move, size)
    except LeaseLost:
        log.info("move %s: another worker took the push", move.public_id)
        return
    except CallError as exc:
        if exc.status == 410:
            end(move, MoveOut.State.CANCELLED, "Cancelled on the new host.")
        elif exc.permanent:
            end(move, MoveOut.State.FAILED, str(exc))
        else:
            failed_attempt(move, exc)
        return
    if answer.get("sha256") != move.sha256:
        end(move, MoveOut.State.FAILED, "The new host read a different package than the one sent.")
        return
    finish(
        move,
        state_was=MoveOut.State.CONFIRMED,
        state=MoveOut.State.PUSHED,
        pushed_at=timezone.now(),
        attempts=0,
        error="",
        next_attempt_at=None,
    )
    log.info("move %s: pushed", move.public_id)
