"""A twin's DIDComm v1 agent: its pairwise connections and the messages that pass over them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from twins.models import Twin


class RecipientKey(models.Model):
    """A base58 verkey a twin's agent answers to, so an inbound envelope finds its twin by the ``kid`` in its
    header without unsealing every twin's key. Filled when the twin hands its key out (an invitation)."""

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="didcomm_keys")
    verkey = models.CharField(max_length=64, unique=True)  # unique: the inbound lookup by kid
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.verkey


class Connection(models.Model):
    """One pairwise relationship (RFC 0023 states, as DID Exchange names them)."""

    class State(models.TextChoices):
        INVITED = "invited"
        REQUESTED = "requested"
        RESPONDED = "responded"
        COMPLETED = "completed"
        ABANDONED = "abandoned"

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="connections")
    state = models.CharField(max_length=16, choices=State.choices, default=State.INVITED)
    invitation_id = models.CharField(max_length=255, blank=True)
    invitation_url = models.TextField(blank=True)
    their_label = models.CharField(max_length=255, blank=True)
    their_did = models.CharField(max_length=2048, blank=True)
    their_verkey = models.CharField(max_length=64, blank=True)
    my_verkey = models.CharField(max_length=64)
    their_endpoint = models.URLField(max_length=2048, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_rtt_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Inbound: the connection an envelope belongs to, by our key and the sender's.
            models.Index(fields=["my_verkey", "their_verkey"], name="didcomm_conn_keys"),
        ]

    def __str__(self) -> str:
        return f"{self.their_label or self.their_did or 'pending'} ({self.state})"


class InboundMessage(models.Model):
    """Every plaintext message received, once per ``@id`` on a connection (SECURITY 14)."""

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="didcomm_inbound")
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound")
    sender_verkey = models.CharField(max_length=64, blank=True)  # "" for Anoncrypt
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=255)
    body = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "message_id"], name="didcomm_inbound_once"),
            # NULLs are distinct in a unique constraint: messages outside any connection are kept once per
            # twin and sender instead.
            models.UniqueConstraint(
                fields=["twin", "sender_verkey", "message_id"],
                condition=Q(connection__isnull=True),
                name="didcomm_inbound_once_unconnected",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class OutboundMessage(models.Model):
    """A plaintext message for the peer; the delivery worker (next) packs and sends it and records the outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="didcomm_outbound")
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbound"
    )
    in_reply_to = models.ForeignKey(
        InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    to_verkey = models.CharField(max_length=64, blank=True)
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=255)
    body = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Trust ping: the ping a ping_response answers (its thid), for the round-trip time.
            models.Index(fields=["connection", "message_id"], name="didcomm_outbound_by_id"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id} ({self.status})"
