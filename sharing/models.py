"""What an owner lets flow to other parties: grants, the outbox of permitted notifications, and webhook endpoints
for parties without an agent. Nothing flows without a grant; everything that flowed is in the delivery log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from didcomm.models import Connection
from twins.models import Twin

# The data kinds a grant can cover. "readings" covers every kind of reading; "readings:<kind>" one kind.
DATA_KINDS = ("readings", "diagnostics", "usage", "scans", "journal", "location")


class WebhookEndpoint(models.Model):
    """A party without a DIDComm agent: Standard Webhooks POSTs to its URL, signed with its secret."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    label = models.CharField(max_length=120)
    url = models.URLField(max_length=2000)
    secret_sealed = models.BinaryField()  # the whsec_ secret, sealed (core.vault); shown once at creation
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)  # a 410 from the receiver, or the owner
    disabled_reason = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.label


class GrantQuerySet(models.QuerySet):
    def active(self, now) -> GrantQuerySet:
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class Grant(models.Model):
    """The owner lets one party (a DIDComm connection or a webhook endpoint) receive some data kinds of one twin,
    until `expires_at` or revocation. Ended by a transfer of the twin (the buyer starts from nothing)."""

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="grants")
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    kinds = models.JSONField(default=list)  # DATA_KINDS entries or "readings:<kind>"
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)  # "owner", "transfer", "deactivated"
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(connection__isnull=False, endpoint__isnull=True)
                | Q(connection__isnull=True, endpoint__isnull=False),
                name="grant_connection_xor_endpoint",
            ),
        ]
        indexes = [
            # The outbox subscriber: WHERE twin_id = ? AND revoked_at IS NULL, on every event.
            models.Index(fields=["twin", "revoked_at"], name="grant_twin_active_idx"),
        ]

    def __str__(self) -> str:
        return f"grant {self.pk} on {self.twin_id}: {','.join(self.kinds)}"


class OutboxItem(models.Model):
    """One permitted notification to one party: written in the transaction of the event it reports, delivered by
    the worker, at least once, with the same `message_id` on every retry.

    A grant's events within the batching window (SHARING_BATCH_SECONDS) join the one open item; it is sent once
    the window closes.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Collecting"  # inside its batching window
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"  # claimed by a worker (lease until next_attempt_at)
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"  # dead letter: retries exhausted; can be replayed
        CANCELLED = "cancelled", "Cancelled"  # the grant ended before delivery

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="outbox")
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="+")
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=60)  # the data kind: "readings", "scans", "journal"...
    payload = models.JSONField(default=dict)  # {"items": [...]} what was permitted and happened
    count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    window_ends_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The worker: WHERE status IN (...) AND next_attempt_at <= now ORDER BY next_attempt_at
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx"),
            # The subscriber finds the open item of a grant and kind.
            models.Index(fields=["grant", "kind", "status"], name="outbox_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.kind} {self.status}"


class ReceivedNotification(models.Model):
    """A permitted notification that arrived at one of our agents (an organisation's, an owner's) over DIDComm,
    deduplicated on its message id."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="received_notifications")
    message_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=60)
    thing = models.CharField(max_length=300, blank=True)  # the twin's DID as the sender named it
    body = models.JSONField(default=dict)
    count = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "message_id"], name="received_notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.kind}"


class ConnectionSubject(models.Model):
    """What a connection is about: the thing (by DID, and by GTIN and serial when the introduction named them)
    whose owner is at the other end. An organisation's agent uses it to reach the owners of the things a recall
    covers, and to tell which thing a received notification is about."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="subjects")
    thing_did = models.CharField(max_length=300)
    gtin = models.CharField(max_length=14, blank=True)
    serial = models.CharField(max_length=20, blank=True)
    twin = models.ForeignKey(Twin, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")  # when local
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "thing_did"], name="connection_subject_once")]
        indexes = [models.Index(fields=["gtin", "serial"], name="connection_subject_gtin_idx")]

    def __str__(self) -> str:
        return f"{self.connection_id} about {self.thing_did}"


class Introduction(models.Model):
    """Aries RFC 0028: our twin introduces its owner to another party (its manufacturer). The owner approves or
    declines; declining leaves no connection and tells the other party nothing about the owner."""

    class State(models.TextChoices):
        # RFC 0028's introducer states: "arranging" while the party's answer is awaited (the owner is asked only
        # once the party approved and said what it asks for), then the owner decides.
        ARRANGING = "arranging", "Asking the other party"
        PROPOSED = "proposed", "Waiting for the owner"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        CONNECTED = "connected", "Connected"
        FAILED = "failed", "Failed"

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="introductions")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="introductions")
    # The twin's connection to the party being introduced (its manufacturer's agent).
    party_connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    party_label = models.CharField(max_length=255)
    asks_for = models.JSONField(default=list, blank=True)  # data kinds the party would like
    message = models.TextField(max_length=2000, blank=True)
    thread_id = models.CharField(max_length=255, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    # The party's RFC 0434 invitation from its approving response, delivered to the owner's agent on accept.
    invitation = models.JSONField(default=dict, blank=True)
    # The thing as the introduction names it (from ProducedThing, or the twin's fields).
    thing_gtin = models.CharField(max_length=14, blank=True)
    thing_serial = models.CharField(max_length=20, blank=True)
    # The owner's connection that resulted (accepted and connected).
    owner_connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The panel and the trigger: the twin's introductions that are under way or connected.
            models.Index(fields=["twin", "state"], name="introduction_twin_state_idx"),
        ]

    def __str__(self) -> str:
        return f"introduction {self.thread_id} ({self.state})"
