"""A twin moving between instances (issue 18), one row per side.

Every instance plays both roles. The destination (B) keeps a :class:`MoveIn`: its owner asked for a thing that
lives elsewhere. The source (A) keeps a :class:`MoveOut`: another instance asked for one of its twins. Each row
walks through explicit states, with the time it reached each, and carries its own retry schedule: the step that
is pending on a side (sending the request, pushing the package, telling the source it arrived) is taken by
whoever claims the row (a task, the periodic job, ``manage.py moves_resume``) with a conditional UPDATE of
``claimed_until``, so two workers never take the same step at once and a worker killed mid-step leaves the row
to be claimed again when its lease ends.

Secrets here: the bearer token both sides present to each other (sealed under core.vault; its SHA-256 finds and
checks it), B's X25519 private move key (sealed), and A's package sealed to B's key (A cannot open it; dropped
once the move ends). Nothing here is ever a package in the clear.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat

from moves.pairing import pairing_code
from owners.keys import ThingKeys, thing_keys, thing_signing_key
from owners.models import OwnerKey
from ssi.errors import SSIError
from ssi.thing_keys import thing_context
from twins.models import Twin, new_public_id


class JsonTextField(models.TextField):
    """JSON kept as its text, so it reads back with every object's members in the order they were written.

    For the move entries a source keeps until it releases: they become its did.jsonl lines then, and PostgreSQL's
    jsonb (a JSONField) gives an object's members back in its own order (shortest key first), so the source's lines
    would differ byte for byte from the destination's, which travelled in the package as signed. Both verify (the
    entry hash is over canonical JSON), but the two hosts should serve the same log."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return None if value is None else json.loads(value)

    def to_python(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False)


class Step(models.Model):
    """What either side's row keeps for its retried steps (moves.steps): the last failure in words for the owner,
    the retry schedule, the claim a worker holds while it takes a step, and when the move was asked and expires."""

    error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    OPEN: tuple[str, ...] = ()

    class Meta:
        abstract = True

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN


class MoveIn(Step):
    """The destination's side: its owner brings a thing here from the instance at ``source_url``."""

    class State(models.TextChoices):
        NEW = "new", "Asking your old host"
        REQUESTED = "requested", "Waiting for you to confirm on your old host"
        ARRIVED = "arrived", "Arrived here, finishing the move"
        DONE = "done", "Moved here"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed"

    OPEN = (State.NEW, State.REQUESTED, State.ARRIVED)
    # A step of ours is pending in these states (the request to send, the arrival to announce).
    PENDING = (State.NEW, State.ARRIVED)

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moves_in")
    # What the owner pasted (a DID or a URL), the source instance's base URL it names, and the DID (from the
    # paste, or from the source's answer when a URL was pasted).
    asked_for = models.CharField(max_length=500)
    source_url = models.URLField(max_length=300)
    did = models.CharField(max_length=300, blank=True)
    scid = models.CharField(max_length=100, blank=True)
    key_public = models.CharField(max_length=64)  # X25519, base64 (ssi.move.public_key_text)
    key_sealed = models.BinaryField(editable=False)  # its private half, core.vault
    token_sealed = models.BinaryField(editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The source's id of this move and the page its owner confirms on.
    remote_id = models.CharField(max_length=64, blank=True)
    confirm_url = models.URLField(max_length=500, blank=True)
    remote_state = models.CharField(max_length=16, blank=True)  # what the source last said about its side
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW)
    twin = models.ForeignKey(Twin, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sha256 = models.CharField(max_length=64, blank=True)  # of the package that arrived
    requested_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)  # cancelled, expired or failed

    class Meta:
        constraints = [
            # A double-submitted form makes one move, not two.
            models.UniqueConstraint(
                fields=["owner", "source_url", "asked_for"],
                condition=Q(state__in=["new", "requested", "arrived"]),
                name="movein_one_open_per_ask",
            ),
            # One twin arrives through one move.
            models.UniqueConstraint(fields=["twin"], condition=Q(twin__isnull=False), name="movein_one_per_twin"),
        ]
        indexes = [
            # The resume job: WHERE state IN (...) AND next_attempt_at <= now
            models.Index(fields=["state", "next_attempt_at"], name="movein_due_idx"),
            # The owner's list of moves: WHERE owner = ? ORDER BY created_at DESC
            models.Index(fields=["owner", "-created_at"], name="movein_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"move in {self.public_id} ({self.state})"

    @property
    def source_host(self) -> str:
        return host_of(self.source_url)

    @property
    def thing_did(self) -> str:
        """The DID the owner's keys for the thing derive from (owners.keys.thing_keys), when the owner pasted it:
        known before the request goes out, and never changed after. A pasted URL gives "": the request then names
        the owner's root keys, as for a self-held owner (docs/moves.md), until the thing's next rotation."""
        try:
            thing_context(self.asked_for)
        except SSIError:
            return ""
        return self.asked_for

    def owner_thing_keys(self, keys: Mapping[str, OwnerKey]) -> ThingKeys:
        """The keys the request names for the owner (`keys`: their active keys by role): see thing_did."""
        did = self.thing_did
        if did:
            return thing_keys(keys, did)
        return ThingKeys(
            update_key=keys[OwnerKey.Role.CURRENT].public_multibase,
            next_key_hash=keys[OwnerKey.Role.NEXT].next_key_hash,
        )

    @property
    def pairing_code(self) -> str:
        """The code the owner types on the old host to confirm this move (moves.pairing): over our move key, the
        owner update key we sent (the owner's current key when the request went out) and our id of the move."""
        keys = OwnerKey.objects.filter(owner_id=self.owner_id, role=OwnerKey.Role.CURRENT)
        when = self.requested_at or self.created_at
        key = (
            keys.filter(created_at__lte=when)
            .filter(Q(retired_at__isnull=True) | Q(retired_at__gt=when))
            .order_by("-created_at")
            .first()
        ) or keys.filter(retired_at__isnull=True).first()
        update_key = ""
        if key is not None:
            did = self.thing_did
            update_key = thing_signing_key(key, did).multibase if did and not key.self_held else key.public_multibase
        return pairing_code(move_key=self.key_public, owner_update_key=update_key, request_id=self.public_id)

    @staticmethod
    def forget_secrets() -> dict[str, object]:
        """What an UPDATE that ends a move (done, cancelled, expired, failed) also sets: the private move key and
        the bearer token go, and the token's hash becomes one no token has (every later call is a 401), so an
        ended move holds nothing that opens a package or speaks for this instance."""
        return {"key_sealed": b"", "token_sealed": b"", "token_hash": Concat(Value("ended:"), F("public_id"))}


class MoveOut(Step):
    """The source's side: the instance at ``destination_url`` asked for ``twin``; its owner here confirms."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Waiting for the owner to confirm"
        CONFIRMED = "confirmed", "Confirmed, sending the thing"
        PUSHED = "pushed", "Sent, waiting for the new host"
        DONE = "done", "Moved away"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed"

    OPEN = (State.REQUESTED, State.CONFIRMED, State.PUSHED)
    IN_FLIGHT = (State.CONFIRMED, State.PUSHED)
    MAX_PAIRING_FAILURES = 5

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(max_length=64)  # the destination's id of this move (its push URL names it)
    asked_as = models.CharField(max_length=500)  # the DID or URL the destination sent
    destination_url = models.URLField(max_length=300)
    destination_did_domain = models.CharField(max_length=300)
    key_public = models.CharField(max_length=64)
    token_sealed = models.BinaryField(editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    owner_update_key = models.CharField(max_length=64)
    owner_next_key_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    entries = JsonTextField(null=True, blank=True)  # the signed move entries, not in the log until done
    # An owner whose keys are self-held confirms in two halves (moves.self_held): the unsigned entries they downloaded
    # to sign offline, and when; their upload must be exactly these, signed (twins.moving.move_entries_signed).
    prepared_entries = models.JSONField(null=True, blank=True)
    prepared_at = models.DateTimeField(null=True, blank=True)
    # Wrong pairing codes typed for this request (moves.pairing): at MAX_PAIRING_FAILURES it is cancelled.
    pairing_failures = models.PositiveSmallIntegerField(default=0)
    sealed = models.BinaryField(null=True, blank=True, editable=False)  # the package, sealed to key_public
    sha256 = models.CharField(max_length=64, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)  # cancelled, expired or failed

    class Meta:
        constraints = [
            # One move of a twin under way at a time: confirming one request cancels the others.
            models.UniqueConstraint(
                fields=["twin"], condition=Q(state__in=["confirmed", "pushed"]), name="moveout_one_in_flight"
            ),
        ]
        indexes = [
            # The resume job: WHERE state IN (...) AND next_attempt_at <= now
            models.Index(fields=["state", "next_attempt_at"], name="moveout_due_idx"),
            # Requests waiting for a twin's owner: WHERE twin = ? AND state = 'requested'
            models.Index(fields=["twin", "state"], name="moveout_twin_idx"),
        ]

    def __str__(self) -> str:
        return f"move out {self.public_id} ({self.state})"

    @property
    def destination_host(self) -> str:
        return host_of(self.destination_url)

    @property
    def pairing_code(self) -> str:
        """The code the destination showed its owner for this request (moves.pairing)."""
        return pairing_code(move_key=self.key_public, owner_update_key=self.owner_update_key, request_id=self.remote_id)


def host_of(url: str) -> str:
    """``host[:port]`` of a base URL, what a person recognises: never the user part of the netloc (with it,
    ``https://things.example.org@evil.example`` would read as things.example.org)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "(an address that is not valid)"
    if not host:
        return "(an address with no host)"
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown
