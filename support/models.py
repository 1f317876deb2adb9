"""Support cases carried over a DIDComm connection: one row per case on each side, and its messages.

The owner's side (``Case.Side.OWNER``) is about one of the owner's twins and goes over a connection of the
twin's agent (or of the owner's own agent about that twin). The party's side (``Case.Side.PARTY``) is the
organisation that answers: it lives on the organisation's agent and knows the thing only by what the owner sent.
Both sides share the case's thread (``thread_id``, the ``@id`` of the message that opened it); each row has its own
random ``public_id`` for URLs, so a peer choosing thread ids learns nothing of our URLs and cannot collide with
another case's.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from didcomm.models import Connection, InboundMessage, OutboundMessage
from makers.models import Organisation, ProductModel
from twins.models import Twin


def new_case_id() -> str:
    return secrets.token_urlsafe(16)


class Case(models.Model):
    class Side(models.TextChoices):
        OWNER = "owner", "Owner"
        PARTY = "party", "Party"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WAITING = "waiting", "Waiting for you"  # the party asked the owner for more data
        RESOLVED = "resolved", "Resolved"

    class Mode(models.TextChoices):
        THINGSTEAD = "thingstead", "Thingstead support protocol"
        BASIC = "basic", "RFC 0095 basic messages"  # the peer runs a plain Aries agent

    public_id = models.CharField(max_length=32, unique=True, default=new_case_id, editable=False)
    side = models.CharField(max_length=8, choices=Side.choices)
    thread_id = models.CharField(max_length=255)
    connection = models.ForeignKey(Connection, null=True, on_delete=models.SET_NULL, related_name="support_cases")
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.THINGSTEAD)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    subject = models.CharField(max_length=200)
    # Owner's side: who opened it, about which twin. (After the twin changes hands the case stays the seller's.)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    twin = models.ForeignKey(Twin, null=True, blank=True, on_delete=models.SET_NULL, related_name="support_cases")
    # Party's side: the organisation answering, the model the case is about (when known), the member on it.
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="support_cases"
    )
    model = models.ForeignKey(ProductModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    peer_label = models.CharField(max_length=255, blank=True)
    # What the owner said about the thing (model, serial, firmware...), as the party received it; for the queue.
    thing = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            # Receiving a message finds its case by connection and thread; a side holds a thread once.
            models.UniqueConstraint(fields=["connection", "side", "thread_id"], name="support_case_thread_once"),
            models.CheckConstraint(
                condition=Q(side="party", organisation__isnull=False) | Q(side="owner", owner__isnull=False),
                name="support_case_side_has_its_holder",
            ),
        ]
        indexes = [
            # The organisation's queue: WHERE organisation_id = ? [AND status = ?] ORDER BY updated_at DESC
            models.Index(fields=["organisation", "status", "updated_at"], name="support_case_queue"),
            # A twin's cases on its page: WHERE twin_id = ? AND owner_id = ?
            models.Index(fields=["twin", "owner"], name="support_case_twin"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} ({self.status})"


class CaseMessage(models.Model):
    """One message of a case, as either side sent or received it."""

    class Kind(models.TextChoices):
        OPEN = "open", "Opened the case"
        REPLY = "reply", "Reply"
        ASK = "ask", "Asked for more"
        PROVIDE = "provide", "Sent more"
        DECLINE = "decline", "Declined"
        STATUS = "status", "Status"
        PROBLEM = "problem", "Problem report"  # the peer's agent refused one of ours (RFC 0035)

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    incoming = models.BooleanField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=255, blank=True)
    text = models.TextField(max_length=10000, blank=True)
    # What the message attaches, as the owner ticked it (context items) and as RFC 0017 attachments.
    context = models.JSONField(default=dict, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    asks = models.JSONField(default=list, blank=True)  # ask: the context kinds the party would like
    status = models.CharField(max_length=8, blank=True)  # status: the case's new status
    outbound = models.ForeignKey(OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    inbound = models.ForeignKey(InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    read_at = models.DateTimeField(null=True, blank=True)  # ours: the peer's read receipt; theirs: we read it
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Idempotent on the message id: a redelivered message lands once.
            models.UniqueConstraint(fields=["case", "message_id"], name="support_message_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.message_id}"

    @property
    def delivery(self) -> str:
        """queued / sent / failed / read for what we sent, "" for what we received."""
        if self.incoming:
            return ""
        if self.read_at is not None:
            return "read"
        if self.outbound is None:
            return "queued"
        return self.outbound.status
