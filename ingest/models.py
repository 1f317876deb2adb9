"""Ingestion sources: where automatic readings come from, how their JSON maps to readings, what was received."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core import vault
from twins.models import Twin

DEFAULT_RATE_LIMIT = "6000/60"


def new_source_id() -> str:
    """128 random bits, URL-safe: the hook URL names the source without revealing or enumerating anything."""
    return secrets.token_urlsafe(16)


class SourceQuerySet(models.QuerySet):
    def owned_by(self, owner) -> SourceQuerySet:
        return self.filter(owner=owner)


class Source(models.Model):
    """A sender of signed webhooks (a manufacturer's cloud, a gateway, a script) feeding some of one owner's things.

    The Standard Webhooks secret is kept sealed (core.vault, under KEY_ENCRYPTION_KEY). After a rotation the
    previous secret stays valid until `previous_valid_until`, so senders can switch without losing messages.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sources")
    public_id = models.CharField(max_length=32, unique=True, default=new_source_id, editable=False)
    name = models.CharField(max_length=120)
    secret_sealed = models.BinaryField(editable=False)
    previous_secret_sealed = models.BinaryField(null=True, blank=True, editable=False)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    # JSON Pointers (RFC 6901) into the payload; see ingest.mapping.DEFAULT_MAPPING.
    mapping = models.JSONField(default=dict, blank=True)
    rate_limit = models.CharField(max_length=32, default=DEFAULT_RATE_LIMIT, help_text="requests/seconds")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # Sources page: WHERE owner_id = ? ORDER BY name, id
            models.Index(fields=["owner", "name", "id"], name="source_list_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="source_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def secrets(self, now: datetime | None = None) -> list[str]:
        """The secrets a delivery may be signed with right now: the current one, and the previous one during
        its rotation overlap (SECURITY 31)."""
        valid = [vault.unseal(self.secret_sealed).decode()]
        now = now or timezone.now()
        if self.previous_secret_sealed and self.previous_valid_until and now < self.previous_valid_until:
            valid.append(vault.unseal(self.previous_secret_sealed).decode())
        return valid

    @property
    def in_overlap(self) -> bool:
        return bool(self.previous_valid_until and timezone.now() < self.previous_valid_until)


class SourceThing(models.Model):
    """One of the owner's things fed by a source; readings name it by its slug or by `external_id`."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="links")
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="+")
    # The sender's own name for the thing (a device serial, a cloud id); empty: readings use the slug.
    external_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["source", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "twin"], name="sourcething_one_link_per_twin"),
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="sourcething_unique_external_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} → {self.twin_id}"


class Delivery(models.Model):
    """A webhook message accepted from a source, kept so a retry with the same `webhook-id` gets the first answer
    and stores nothing new (SECURITY 32). Pruned after DELIVERY_RETENTION_DAYS (≥ 5)."""

    # No index of its own: the unique (source, webhook_id) constraint's index leads with it. A second index made
    # the planner pick it (every delivery of the source, filtered) for a fresh table's lookups by webhook-id.
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    webhook_id = models.CharField(max_length=255)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two deliveries of one message racing each other: the second INSERT waits for the first to commit
            # and then fails, so the readings are stored exactly once.
            models.UniqueConstraint(fields=["source", "webhook_id"], name="delivery_once_per_webhook_id"),
        ]
        indexes = [
            # prune_deliveries: WHERE created_at < ?
            models.Index(fields=["created_at"], name="delivery_prune_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.webhook_id}"


class DeviceKeyQuerySet(models.QuerySet):
    def active(self) -> DeviceKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class DeviceKey(models.Model):
    """An Ed25519 key held by a device (or its firmware) of a thing; readings it signs are "device-signed".

    Registered by the owner for now (a manufacturer at production later). A revoked key stays listed, and the
    readings it signed before keep their signature and key, but it verifies nothing new.
    """

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="device_keys")
    # Multikey (`z6Mk…`), the form ssi.keys.VerifyKey.from_multibase reads.
    public_key = models.CharField(max_length=64)
    label = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = DeviceKeyQuerySet.as_manager()

    class Meta:
        ordering = ["twin", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["twin", "public_key"], name="devicekey_once_per_twin"),
        ]
        indexes = [
            # resolve_readings: WHERE twin_id IN (...) AND revoked_at IS NULL
            models.Index(fields=["twin", "revoked_at"], name="devicekey_twin_idx"),
            # ingest.devices: is this key registered on another thing? (device_key_add refuses it; active_keys marks
            # a key that is, from before that rule or a moved thing's arrival, as one whose readings must sign thing)
            models.Index(fields=["public_key"], name="devicekey_public_key_idx"),
        ]

    def __str__(self) -> str:
        return self.label or self.public_key

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class PendingReadings(models.Model):
    """Readings of one message and one thing that are committed but not yet in the thing's signed history.

    Small messages (most single readings) are acknowledged once their readings and this row commit; the history
    entry follows from the task worker (ingest.history), which takes every pending row of the thing under its
    row lock, appends one entry and deletes the rows in the same transaction. A crash anywhere leaves the rows,
    so the next flush of the thing (or any other append to its history, which catches up first) still takes them.
    """

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="+")
    # Reading ids in the order they were stored (an array on PostgreSQL, a JSON list elsewhere).
    reading_ids = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The flush of one thing: WHERE twin_id = ? ORDER BY id
            models.Index(fields=["twin", "id"], name="pendingreadings_twin_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.twin_id}: {len(self.reading_ids)} readings"


class HistoryFlush(models.Model):
    """A thing whose pending readings a flush task has been asked to append (one row per thing at most).

    The row is the hand-over between requests and the worker: a message that creates it enqueues the task; the
    others see it and leave the task to pick up their readings. The task deletes it under the thing's lock before
    reading the pending rows, and a message upserting it meanwhile waits for that, so no message is left behind.
    A row older than :data:`ingest.history.STALE_AFTER` (its task lost in a crash) is enqueued again.
    """

    twin = models.OneToOneField(Twin, on_delete=models.CASCADE, primary_key=True, related_name="+")
    requested_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"flush {self.twin_id}"


class RestoredSource(models.Model):
    """What a thing's arrival (issue 18, ingest.portability) restored into one source while the thing is still
    arriving: whether the source was made for it, else the Delivery rows its package added to a source that was
    here already. A called-off arrival (twins.events.ArrivalDiscarded) removes exactly that and nothing else; the
    row goes when the thing arrives (TwinArrived) or is deleted."""

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    made = models.BooleanField()
    # The ids of the Delivery rows restored into a source that was here already (empty for a made one: it goes whole).
    delivery_ids = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["twin", "source"], name="restoredsource_once_per_twin"),
        ]

    def __str__(self) -> str:
        return f"{self.twin_id} restored into {self.source_id}"
