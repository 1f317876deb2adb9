"""A handover: one offer of many things to one buyer, accepted once, carried out all or nothing."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from twins.models import TransferOffer, Twin, new_offer_token, new_public_id


class HandoverQuerySet(models.QuerySet):
    def open(self) -> HandoverQuerySet:
        return self.filter(status=Handover.Status.OPEN)

    def pending(self) -> HandoverQuerySet:
        """Open, or accepted and waiting for a self-held seller's signature: its things are spoken for."""
        return self.filter(status__in=Handover.PENDING)


class Handover(models.Model):
    """A seller's single-use, expiring offer of several things to whoever accepts it first, all at once."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWAITING_SELLER = "awaiting_seller", "Accepted, waiting for the seller's signature"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        # The acceptance was tried and one thing could not move: nothing moved, `failure` says why.
        FAILED = "failed", "Failed, nothing moved"

    PENDING = (Status.OPEN, Status.AWAITING_SELLER)

    # In the seller's URLs; the token (the buyer's bearer capability) never is.
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=new_offer_token, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    redact_kinds = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The buyer's one countersignature: a signed document naming the offer, every twin's DID and the buyer's keys.
    acceptance = models.JSONField(null=True, blank=True)
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects = HandoverQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The seller's list: WHERE seller_id = ? ORDER BY created_at DESC
            models.Index(fields=["seller", "created_at"], name="handover_seller_idx"),
        ]

    def __str__(self) -> str:
        return f"handover {self.public_id} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return self.status in self.PENDING and self.expires_at <= timezone.now()

    @property
    def shown_status(self) -> str:
        """The status in words, an open offer past its time as expired (it is marked so lazily)."""
        if self.is_expired:
            return self.Status.EXPIRED.label
        return self.get_status_display()


class HandoverThing(models.Model):
    """One thing of a handover, in the order the buyer sees and signs them."""

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="things")
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    # Mirrors the handover's pending statuses, so the database refuses a thing in two open handovers (a race of two
    # sellers' tabs both creating one).
    open = models.BooleanField(default=True)
    # The twin's own transfer record once it moved (the sold-thing page, the offers list and the Transferred event
    # name it, as for a single transfer).
    # A self-held seller signs these prepared log entries; the new agent key waits here, sealed, until then.
    prepared_entries = models.JSONField(null=True, blank=True)
    pending_agent_sealed = models.BinaryField(null=True, blank=True, editable=False)
    transfer_offer = models.OneToOneField(
        TransferOffer, null=True, blank=True, on_delete=models.SET_NULL, related_name="handover_thing"
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["twin"], condition=Q(open=True), name="handover_one_open_per_twin"),
            models.UniqueConstraint(fields=["handover", "twin"], name="handover_twin_once"),
        ]

    def __str__(self) -> str:
        return f"{self.twin_id} in handover {self.handover_id}"
