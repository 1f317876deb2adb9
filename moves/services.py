"""Moving a twin to another instance (issue 18): the protocol of docs/moves.md, both roles, as services.

Public API (pages, the API, tasks and ``manage.py shell`` all go through these; keyword-only, typed):

Destination (B), where the owner brings the thing:
    ``move_request(*, owner, source: str) -> MoveIn``
        Step 1. ``source`` is the twin's did:webvh DID or the address of its page on the old host. Makes the move
        (a fresh X25519 key pair, private half sealed; a bearer token) and asks the source at once. The MoveIn
        comes back ``requested`` (its ``confirm_url`` is where the owner confirms on the old host), or ``new`` if
        the source could not be reached (``moves_resume`` asks again). ValidationError (field ``source``) for
        something that names no other instance, or that the source refused (nothing is kept then). Asking again
        for the same thing while a move is open returns that move.
    ``move_cancel(*, move: MoveIn | MoveOut, by: Owner) -> None``
        Either side's owner, until the source has let go (step 4). Idempotent. MoveRefused (409) once it has.

Source (A), where the thing lives now:
    ``move_confirm(*, move_out, by, pairing_code) -> None``
        Step 2, by the twin's owner (the page asks for a fresh login) with the pairing code the new host showed
        them (moves.pairing: a wrong one is refused with 400, the fifth cancels the request): builds the move entries
        (twins.moving.move_entries, not yet in the log), the package with them, seals it to the destination's
        key and pushes it (a task, retried until the destination answers 2xx). Idempotent. MoveRefused (409, or
        410 for a request that expired or was cancelled) with a reason the owner can act on.

Both:
    ``moves_resume() -> int``
        Every pending step that is due, on both sides (the periodic job, ``manage.py moves_resume``): sending a
        request, pushing a package, announcing an arrival, asking the source how a request stands, expiring
        requests older than a day. Returns how many steps it attempted. Safe to run anywhere, any time, in
        several processes at once.

The server side of the API (moves.apis): :func:`request_received` (A, step 1), :func:`package_received` (B, step
3), :func:`arrival_received` (A, step 4), :func:`cancel_received` (A), :func:`status_of` (A).

A SIGKILL at any point leaves the twin live in exactly one place: on A until step 4 commits (release and ``done``
in one transaction), on B from step 5; between the two B asks again and A answers 200 again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict
from core.vault import seal, unseal
from moves import bearer, pairing, sources, steps, tasks
from moves.client import CallError
from moves.models import MoveIn, MoveOut
from owners.keys import SelfHeldKeyRequired, owner_holds_update_key
from owners.models import Owner
from ssi import move as sealing
from ssi import webvh
from ssi.errors import SSIError
from ssi.keys import VerifyKey
from ssi.vault import VaultError
from twins import identity, leaving, moving
from twins.models import Twin
from twins.portability import PackageError

log = logging.getLogger(__name__)

# How many rows of each kind one resume run takes (the rest wait for the next run).
RESUME_BATCH = 50


class MoveRefused(Conflict):
    """A step of a move cannot happen now; ``message`` says why, ``status`` 409 (or 410: ended, 400: bad package)."""

    message = "This move cannot go on."


class NotHere(Conflict):
    """The thing a destination asked for is not here (404)."""

    status = 404
    message = "No thing here has this DID or address."


# -- destination (B): step 1 ------------------------------------------------------------------------------------------


def move_request(*, owner: Owner, source: str) -> MoveIn:
    """Step 1 on the destination: see the module docstring."""
    parsed = sources.parse_source(source)
    open_move = MoveIn.objects.filter(
        owner=owner, source_url=parsed.base_url, asked_for=parsed.asked_for, state__in=MoveIn.OPEN
    ).first()
    if open_move is not None:
        if open_move.state == MoveIn.State.NEW:
            steps.send_request(open_move.pk, due_only=False)
        return MoveIn.objects.get(pk=open_move.pk)
    keys = sealing.new_keys()
    token = bearer.new_token()
    now = timezone.now()
    try:
        with transaction.atomic():
            move = MoveIn.objects.create(
                owner=owner,
                asked_for=parsed.asked_for,
                source_url=parsed.base_url,
                did=parsed.did,
                scid=parsed.scid,
                key_public=sealing.public_key_text(keys.public),
                key_sealed=seal(keys.private),
                token_sealed=bearer.sealed(token),
                token_hash=bearer.token_hash(token),
                expires_at=now + steps.REQUEST_LIFETIME,
                next_attempt_at=now,
            )
    except IntegrityError:  # the same ask, submitted twice at once: the other one made it
        return MoveIn.objects.get(
            owner=owner, source_url=parsed.base_url, asked_for=parsed.asked_for, state__in=MoveIn.OPEN
        )
    refusal = steps.send_request(move.pk, due_only=False)
    if refusal is not None:
        # The source said no (no such thing, not portable, moved away): nothing to keep, the form says why.
        MoveIn.objects.filter(pk=move.pk, state=MoveIn.State.FAILED).delete()
        raise ValidationError({"source": f"Your old host refused: {refusal}"})
    return MoveIn.objects.get(pk=move.pk)


# -- source (A): step 1, the request arrives ----------------------------------------------------------------------


def _check_request(data: Mapping[str, Any]) -> dict[str, Any]:
    """The request's fields, checked (ValidationError naming the field)."""
    destination = str(data["destination"]).rstrip("/")
    try:
        parts = urlsplit(destination)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        parts = None
    # Only scheme://host[:port]: a user part ("https://things.example.org@evil.example" reads as the first name
    # and reaches the second), a path, a query or a fragment would let a page show one host and mean another.
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "?" in destination
        or "#" in destination
    ):
        raise ValidationError(
            {"destination": "The destination must be an http(s) base URL (its SITE_URL): scheme://host[:port]."}
        )
    try:
        webvh.make_did("z" * 46, data["destination_did_domain"].replace("%3A", ":"))
    except (SSIError, ValueError, UnicodeError):
        raise ValidationError({"destination_did_domain": "This is not a domain a did:webvh DID can name."}) from None
    try:
        sealing.public_key_from_text(data["key"])
    except sealing.MoveError as exc:
        raise ValidationError({"key": str(exc)}) from None
    try:
        VerifyKey.from_multibase(data["owner_update_key"])
    except SSIError:
        raise ValidationError({"owner_update_key": "This is not an Ed25519 public key (z6Mk…)."}) from None
    next_hash = data["owner_next_key_hash"]
    if not (next_hash.startswith("Qm") and len(next_hash) == 46):
        raise ValidationError({"owner_next_key_hash": "This is not a key hash (Qm…, 46 characters)."})
    if len(data["token"]) < 32:
        raise ValidationError({"token": "The token must be at least 32 characters of randomness."})
    return {**data, "destination": destination}


def request_received(data: Mapping[str, Any]) -> tuple[MoveOut, bool]:
    """Step 1 on the source: another instance asks for one of our twins. (the request, whether it is new).

    Anyone may ask (the owner here decides): a request shows nothing that is not public, waits for the owner, and
    expires after a day. The same token again is the same request (idempotent); Http404 for a thing not here.
    """
    data = _check_request(data)
    token_hash = bearer.token_hash(data["token"])
    existing = MoveOut.objects.filter(token_hash=token_hash).select_related("twin").first()
    if existing is not None:
        if existing.remote_id != data["id"] or existing.destination_url != data["destination"]:
            raise MoveRefused("This token belongs to another request.")
        return existing, False
    twin = sources.twin_for(data["did"])
    if twin is None or twin.deactivated_at is not None or twin.arriving:
        raise NotHere("No thing here has this DID or address.")
    if twin.moved_to:
        raise MoveRefused(f"This thing has moved to {twin.moved_to}.", status=410)
    try:
        with transaction.atomic():
            move = MoveOut.objects.create(
                twin=twin,
                remote_id=data["id"],
                asked_as=data["did"],
                destination_url=data["destination"],
                destination_did_domain=data["destination_did_domain"],
                key_public=data["key"],
                token_sealed=bearer.sealed(data["token"]),
                token_hash=token_hash,
                owner_update_key=data["owner_update_key"],
                owner_next_key_hash=data["owner_next_key_hash"],
                expires_at=timezone.now() + steps.REQUEST_LIFETIME,
            )
    except IntegrityError:  # the same request twice at once
        return MoveOut.objects.select_related("twin").get(token_hash=token_hash), False
    log.info("move %s: requested by %s", move.public_id, move.destination_host)
    return move, True


def status_of(move: MoveOut) -> dict[str, Any]:
    """What the source tells the destination about its side of a move (the destination's status page). A read:
    a request past its day reads as expired before the resume job has marked it so."""
    state = move.state
    if state == MoveOut.State.REQUESTED and move.expires_at <= timezone.now():
        state = MoveOut.State.EXPIRED
    return {"state": state, "expires_at": move.expires_at, "error": move.error if state == MoveOut.State.FAILED else ""}


# -- source (A): step 2 -------------------------------------------------------------------------------------------


def why_not(move: MoveOut, twin: Twin) -> str | None:
    """Why ``twin`` cannot go with ``move`` now, in words its owner can act on; None when it can."""
    if not moving.is_live(twin):
        return "This thing does not live here (it moved away, or has not arrived yet)."
    under_way = MoveOut.objects.filter(twin=twin, state__in=MoveOut.IN_FLIGHT).exclude(pk=move.pk).first()
    if under_way is not None:
        return f"This thing is already on its way to {under_way.destination_host}: cancel that move first."
    return moving.can_move(twin)


def _check_pairing_code(move_out: MoveOut, by: Owner, typed: str) -> None:
    """The owner typed the code the new host showed them for THIS request (moves.pairing; review finding 13): a
    stranger's request for the same thing and host has another. A wrong code is refused (400) and counted, in a
    transaction of its own (the refusal must not roll the count back); the MAX_PAIRING_FAILURES-th cancels the
    request (410). Someone else's move, or one no longer waiting, is left to move_confirm's own checks."""
    if not pairing.normalized(typed or ""):
        raise MoveRefused("Type the pairing code your new host shows on the move's page.", status=400)
    with transaction.atomic():
        move = MoveOut.objects.select_for_update().get(pk=move_out.pk)
        owner_id = Twin.objects.filter(pk=move.twin_id).values_list("owner_id", flat=True).first()
        if owner_id != by.pk or move.state != MoveOut.State.REQUESTED or pairing.matches(typed, move.pairing_code):
            return
        failures = move.pairing_failures + 1
        ended = failures >= MoveOut.MAX_PAIRING_FAILURES
        ending = {"state": MoveOut.State.CANCELLED, "ended_at": timezone.now(), "next_attempt_at": None}
        MoveOut.objects.filter(pk=move.pk).update(
            pairing_failures=failures,
            **(ending | {"error": "Cancelled: a wrong pairing code was typed too many times."} if ended else {}),
        )
    log.warning("move %s: wrong pairing code (%d)", move.public_id, failures)
    if ended:
        raise MoveRefused(
            f"The pairing code was wrong {failures} times, so this request is cancelled and nothing moves. If it was "
            "your own request, ask again from the new host.",
            status=410,
        )
    left = MoveOut.MAX_PAIRING_FAILURES - failures
    raise MoveRefused(
        "This is not the pairing code of this request: nothing moved. Type the code your new host shows on the "
        "move's page; if it shows none, or another request is open for this thing, this one may be a stranger's. "
        f"{left} {'try' if left == 1 else 'tries'} left before this request is cancelled.",
        status=400,
    )


def move_confirm(*, move_out: MoveOut, by: Owner, pairing_code: str, signed_entries: Any = None) -> None:
    """Step 2 on the source: see the module docstring. ``pairing_code``: what the owner typed, the code the new host
    shows them (moves.pairing). ``signed_entries``: an owner whose keys are self-held uploads the entries they
    downloaded (moves.self_held.move_prepare), signed with ``python -m ssi.sign``."""
    _check_pairing_code(move_out, by, pairing_code)
    with transaction.atomic():
        # The thing first, then the request: two confirmations of two requests for one thing (which also touch
        # each other's rows) queue on the thing instead of deadlocking (review finding 14).
        twin = Twin.objects.select_for_update().get(
            pk=MoveOut.objects.values_list("twin_id", flat=True).get(pk=move_out.pk)
        )
        move = MoveOut.objects.select_for_update().get(pk=move_out.pk)
        if twin.owner_id != by.pk:
            raise MoveRefused("Only the thing's owner can confirm its move.", status=404)
        if move.state in MoveOut.IN_FLIGHT or move.state == MoveOut.State.DONE:
            return  # confirmed already (a second click)
        if move.state != MoveOut.State.REQUESTED:
            raise MoveRefused(
                f"This request is {move.get_state_display().lower()}: ask again from the new host.", status=410
            )
        now = timezone.now()
        if move.expires_at <= now:
            raise MoveRefused("This request has expired: ask again from the new host.", status=410)
        reason = why_not(move, twin)
        if reason:
            raise MoveRefused(reason)
        try:
            if signed_entries is None:
                entries = moving.move_entries(
                    twin,
                    by=by,
                    new_domain=move.destination_did_domain,
                    new_update_key=move.owner_update_key,
                    new_next_key_hash=move.owner_next_key_hash,
                    destination_url=move.destination_url,
                )
            else:  # the self-held owner's upload: exactly what they downloaded, signed by the key the log allows
                entries = moving.move_entries_signed(twin, by=by, signed=signed_entries, prepared=move.prepared_entries)
        except SelfHeldKeyRequired as exc:
            raise MoveRefused(str(exc)) from None
        # The package, with the move entries at the end of its DID log (the destination restores it so), and what
        # the destination needs to know about this move: our id of it (its arrival call names it), both hosts.
        package = moving.move_package(twin, entries=entries)
        package["move"] = {"request": move.public_id, "source": settings.SITE_URL, "destination": move.destination_url}
        sealed = sealing.seal(package, sealing.public_key_from_text(move.key_public))
        del package
        # The other requests for this twin: one move at a time, and this one is it.
        MoveOut.objects.filter(twin=twin, state=MoveOut.State.REQUESTED).exclude(pk=move.pk).update(
            state=MoveOut.State.CANCELLED, error="Another move of this thing was confirmed.", ended_at=now
        )
        # From now on nothing new is written for the twin here: it would stay behind (twins.leaving).
        leaving.freeze(twin, destination_url=move.destination_url)
        MoveOut.objects.filter(pk=move.pk).update(
            state=MoveOut.State.CONFIRMED,
            confirmed_by=by,
            confirmed_at=now,
            entries=entries,
            sealed=sealed.ciphertext,
            sha256=sealed.sha256,
            attempts=0,
            error="",
            next_attempt_at=now,
        )
        tasks.after_commit(tasks.push_package, move.pk)
    log.info("move %s: confirmed", move.public_id)


# -- destination (B): step 3 --------------------------------------------------------------------------------------

# What a sealed package may become once opened. The sealed bytes are capped by MOVES_MAX_PACKAGE_BYTES (moves.apis);
# zlib inflates up to ~1000x, so the plaintext and the number of JSON values in it have caps of their own.
DEFAULT_MAX_PLAINTEXT_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PACKAGE_VALUES = 8_000_000


def max_plaintext_bytes() -> int:
    """MOVES_MAX_PLAINTEXT_BYTES: the largest opened package (canonical JSON) taken; default 64 MiB."""
    return int(getattr(settings, "MOVES_MAX_PLAINTEXT_BYTES", DEFAULT_MAX_PLAINTEXT_BYTES))


def max_package_values() -> int:
    """MOVES_MAX_PACKAGE_VALUES: the most JSON values an opened package may hold (ssi.move.value_bound); default
    8 million (a package of 64 MiB of readings holds about 6 million)."""
    return int(getattr(settings, "MOVES_MAX_PACKAGE_VALUES", DEFAULT_MAX_PACKAGE_VALUES))


def _check_arrived(twin: Twin, move: MoveIn) -> None:
    """The restored twin's DID log, with the move entries, verifies; its DID keeps the SCID asked for and names
    this instance's domain; its update keys are the owner's here. MoveRefused (400) otherwise."""
    try:
        state = identity.log_state(twin)
    except SSIError as exc:
        raise MoveRefused(f"The thing's DID log does not verify: {exc}", status=400) from None
    parsed = webvh.parse_did(state.did)
    domain = parsed.host + (f"%3A{parsed.port}" if parsed.port else "")
    if not move.scid or state.scid != move.scid:
        raise MoveRefused("The package holds another thing than the one asked for (SCID differs).")
    if domain != settings.DID_DOMAIN.lower().replace(":", "%3A"):
        raise MoveRefused("The thing's DID log does not name this instance's domain.", status=400)
    if not owner_holds_update_key(owner=move.owner, did=state.did, update_keys=state.update_keys):
        raise MoveRefused("The thing's DID log does not hand it to your key here.", status=400)


def _claimed_scid(package: Mapping[str, Any]) -> str:
    """The SCID of the DID the package's twin part claims ("" if none); the DID log proves it later."""
    try:
        return webvh.parse_did(package["parts"]["twin"]["fields"]["did"]).scid
    except (KeyError, TypeError, AttributeError, SSIError):
        return ""


def _refused_after_opening(move: MoveIn, reason: str) -> None:
    """A package that opened but is refused ends a move still waiting for one (review finding 1): the source may
    not try package after package (each refusal says something of this host's data, and each costs an opening);
    the owner asks again if they want. A move the package arrived for already keeps its arrival."""
    MoveIn.objects.filter(pk=move.pk, state__in=(MoveIn.State.NEW, MoveIn.State.REQUESTED)).update(
        state=MoveIn.State.FAILED,
        error=f"The package your old host sent was refused: {reason}"[:300],
        ended_at=timezone.now(),
        next_attempt_at=None,
        claimed_until=None,
        **MoveIn.forget_secrets(),
    )
    log.info("move %s: package refused, failed", move.public_id)


def _restore_opened(move: MoveIn, package: Mapping[str, Any], sha256: str) -> bool:
    """Step 3 once the package opened: in one transaction, check it and restore the twin (not live); whether it was
    restored now (False: the same package again). MoveRefused as :func:`package_received` says."""
    with transaction.atomic():
        locked = MoveIn.objects.select_for_update().get(pk=move.pk)
        if locked.state in (MoveIn.State.ARRIVED, MoveIn.State.DONE):
            if locked.sha256 != sha256:
                raise MoveRefused("A different package arrived for this move already.")
            return False
        if locked.state not in (MoveIn.State.NEW, MoveIn.State.REQUESTED):
            raise MoveRefused(f"This move is {locked.get_state_display().lower()} here.", status=410)
        about = package.get("move") if isinstance(package.get("move"), dict) else {}
        if str(about.get("destination", "")).rstrip("/") != settings.SITE_URL.rstrip("/"):
            raise MoveRefused("The package is addressed to another instance.", status=400)
        # The thing the owner saw named on the status page (the DID asked for, or the one the source answered
        # with) is the only one that may arrive: anything else is refused before a row is written.
        if not locked.scid or _claimed_scid(package) != locked.scid:
            raise MoveRefused("The package holds another thing than the one asked for (SCID differs).")
        try:
            with transaction.atomic():
                twin = moving.arrive(
                    package, owner=locked.owner, source_url=locked.source_url, destination_url=settings.SITE_URL
                )
                _check_arrived(twin, locked)
        except (PackageError, SSIError) as exc:
            raise MoveRefused(f"The package cannot be restored here: {exc}", status=400) from None
        except ValidationError as exc:
            raise MoveRefused(f"The package cannot be restored here: {'; '.join(exc.messages)}", status=400) from None
        except IntegrityError:
            raise MoveRefused("The package conflicts with data on this host.") from None
        now = timezone.now()
        MoveIn.objects.filter(pk=locked.pk).update(
            state=MoveIn.State.ARRIVED,
            twin=twin,
            did=twin.did,
            sha256=sha256,
            remote_id=locked.remote_id or str(about.get("request") or "")[:64],
            remote_state=MoveOut.State.PUSHED,
            arrived_at=now,
            attempts=0,
            error="",
            next_attempt_at=now,
        )
        tasks.after_commit(tasks.announce_arrival, locked.pk)
    return True


def package_received(*, move: MoveIn, ciphertext: bytes) -> str:
    """Step 3 on the destination: open the package, check it, restore the twin (not live: arriving). Returns the
    SHA-256 of the package. Idempotent: the same package again answers the same; MoveRefused otherwise (410: the
    move ended here; 409: a different package arrived already; 400: the package is unusable)."""
    # Before anything is opened: a move that no longer waits for a package costs nothing to refuse (what a
    # hostile "source" sends is only ever inflated and parsed for a move still waiting, and within the limits).
    current = MoveIn.objects.filter(pk=move.pk).values("state", "sha256", "key_sealed").first()
    if current is None or current["state"] not in (MoveIn.State.NEW, MoveIn.State.REQUESTED, MoveIn.State.ARRIVED):
        if current is not None and current["state"] == MoveIn.State.DONE:
            return current["sha256"]  # the source missed our answer; the move's key is gone, the twin is here
        state = MoveIn.State(current["state"]).label.lower() if current else "gone"
        raise MoveRefused(f"This move is {state} here.", status=410)
    try:
        private = unseal(bytes(current["key_sealed"]))
    except VaultError:
        raise MoveRefused("This move's key cannot be opened here any more (the key-encryption key changed).") from None
    try:
        package, sha256 = sealing.unseal(
            ciphertext, private, max_bytes=max_plaintext_bytes(), max_elements=max_package_values()
        )
    except sealing.MoveError as exc:
        raise MoveRefused(str(exc), status=400) from None
    del private
    try:
        restored = _restore_opened(move, package, sha256)
    except MoveRefused as exc:
        if exc.status != 410:
            _refused_after_opening(move, str(exc))
        raise
    if restored:
        log.info("move %s: arrived", move.public_id)
    return sha256


# -- source (A): step 4 -------------------------------------------------------------------------------------------


def arrival_received(*, move: MoveOut, sha256: str) -> MoveOut:
    """Step 4 on the source: the destination holds the twin. In one transaction: the move entries go into our DID
    log, the twin is marked moved (twins.moving.release), the move is done. Idempotent (done: done again);
    MoveRefused 410 if it was cancelled here first, 409 for another package's SHA-256."""
    with transaction.atomic():
        locked = MoveOut.objects.select_for_update().get(pk=move.pk)
        if locked.state == MoveOut.State.DONE:
            return locked
        if locked.state not in MoveOut.IN_FLIGHT:
            raise MoveRefused(f"This move is {locked.get_state_display().lower()} on the old host.", status=410)
        if not sha256 or sha256 != locked.sha256:
            raise MoveRefused("This is not the package that was sent (SHA-256 differs).")
        twin = Twin.objects.select_for_update().get(pk=locked.twin_id)
        moving.release(twin, entries=list(locked.entries or []), destination_url=locked.destination_url)
        now = timezone.now()
        MoveOut.objects.filter(pk=locked.pk).update(
            state=MoveOut.State.DONE,
            done_at=now,
            pushed_at=locked.pushed_at or now,
            sealed=None,  # the destination has it: nothing secret stays behind
            error="",
            next_attempt_at=None,
        )
    log.info("move %s: done (moved to %s)", move.public_id, move.destination_host)
    move.refresh_from_db()
    return move


# -- cancelling ---------------------------------------------------------------------------------------------------


def cancel_received(*, move: MoveOut) -> MoveOut:
    """The destination's owner cancelled: the source lets the request go (idempotent). MoveRefused once done."""
    with transaction.atomic():
        locked = MoveOut.objects.select_for_update().get(pk=move.pk)
        if locked.state == MoveOut.State.DONE:
            raise MoveRefused("The thing has moved already: the move cannot be cancelled.")
        if locked.state in MoveOut.OPEN:
            MoveOut.objects.filter(pk=locked.pk).update(
                state=MoveOut.State.CANCELLED,
                error="Cancelled on the new host.",
                ended_at=timezone.now(),
                sealed=None,
                next_attempt_at=None,
            )
            if locked.state in MoveOut.IN_FLIGHT:  # only the move that froze the twin thaws it
                leaving.thaw(locked.twin_id)
    move.refresh_from_db()
    return move


def move_cancel(*, move: MoveIn | MoveOut, by: Owner) -> None:
    """Either owner cancels, until the source has let go: see the module docstring."""
    if isinstance(move, MoveOut):
        _cancel_out(move, by)
    else:
        _cancel_in(move, by)


def _cancel_out(move: MoveOut, by: Owner) -> None:
    with transaction.atomic():
        locked = MoveOut.objects.select_for_update().select_related("twin").get(pk=move.pk)
        if locked.twin.owner_id != by.pk:
            raise MoveRefused("Only the thing's owner can cancel its move.", status=404)
        if locked.state == MoveOut.State.DONE:
            raise MoveRefused("The thing has moved already: the move cannot be cancelled.")
        if locked.state in MoveOut.OPEN:
            MoveOut.objects.filter(pk=locked.pk).update(
                state=MoveOut.State.CANCELLED,
                error="Cancelled by the owner.",
                ended_at=timezone.now(),
                sealed=None,
                next_attempt_at=None,
            )
            if locked.state in MoveOut.IN_FLIGHT:  # only the move that froze the twin thaws it
                leaving.thaw(locked.twin_id)
    log.info("move %s: cancelled on the source", move.public_id)


def _cancel_in(move: MoveIn, by: Owner) -> None:
    if move.owner_id != by.pk:
        raise MoveRefused("Only the owner who asked for this move can cancel it.", status=404)
    move.refresh_from_db()
    if move.state == MoveIn.State.DONE:
        raise MoveRefused("The thing has moved here already: the move cannot be cancelled.")
    if move.state not in MoveIn.OPEN:
        return
    if move.state == MoveIn.State.ARRIVED:
        # The source may be letting go this very moment: only its word decides (else the twin could end up live
        # nowhere, or in both places).
        failure = steps.send_cancel(move)
        if failure is not None:
            if failure.status == 409:
                tasks.announce_arrival.enqueue(move.pk)
                raise MoveRefused("Your old host has let go already: the move is finishing.") from None
            if failure.status != 410:
                raise MoveRefused(f"Your old host cannot be reached to cancel ({failure}); try again later.")
        steps.discard_arrival(move, "Cancelled by you.")
        return
    with transaction.atomic():
        cancelled = MoveIn.objects.filter(pk=move.pk, state__in=(MoveIn.State.NEW, MoveIn.State.REQUESTED)).update(
            state=MoveIn.State.CANCELLED,
            error="Cancelled by you.",
            ended_at=timezone.now(),
            next_attempt_at=None,
            **MoveIn.forget_secrets(),
        )
    if not cancelled:  # the package arrived meanwhile: cancel that
        _cancel_in(move, by)
        return
    steps.send_cancel(move)  # best effort: a source that does not hear it is refused (410) when it pushes
    log.info("move %s: cancelled on the destination", move.public_id)


# -- resuming -----------------------------------------------------------------------------------------------------


def expire(now: datetime | None = None) -> int:
    """Requests nobody confirmed within a day end, on both sides."""
    now = now or timezone.now()
    out = MoveOut.objects.filter(state=MoveOut.State.REQUESTED, expires_at__lte=now).update(
        state=MoveOut.State.EXPIRED, error="Not confirmed in time.", ended_at=now
    )
    inn = MoveIn.objects.filter(state=MoveIn.State.NEW, expires_at__lte=now).update(
        state=MoveIn.State.EXPIRED,
        error="Your old host could not be reached in time.",
        ended_at=now,
        next_attempt_at=None,
        **MoveIn.forget_secrets(),
    )
    return out + inn


def _due(model: type[MoveIn] | type[MoveOut], state: str, now: datetime) -> list[int]:
    rows = model.objects.filter(state=state, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(rows.values_list("pk", flat=True)[:RESUME_BATCH])


def moves_resume() -> int:
    """Every pending step that is due, on both sides: see the module docstring. A step that fails unexpectedly is
    logged and left to its lease (it is taken again after that); the others still run."""
    now = timezone.now()
    expire(now)
    attempted = 0
    for model, state, step in (
        (MoveOut, MoveOut.State.CONFIRMED, steps.push_package),
        (MoveIn, MoveIn.State.NEW, steps.send_request),
        (MoveIn, MoveIn.State.ARRIVED, steps.announce_arrival),
        (MoveIn, MoveIn.State.REQUESTED, steps.poll_source),
    ):
        for pk in _due(model, state, now):
            attempted += 1
            try:
                step(pk)
            except Exception:
                log.exception("move step %s failed on row %s; taken again once its claim lapses", step.__name__, pk)
    return attempted


__all__ = [
    "CallError",
    "MoveRefused",
    "NotHere",
    "arrival_received",
    "cancel_received",
    "move_cancel",
    "move_confirm",
    "move_request",
    "moves_resume",
    "package_received",
    "request_received",
    "status_of",
]
