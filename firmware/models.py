"""Firmware releases of a maker's product models, each model's signing policy, and what each twin accepted.

The manifest (ssi.firmware) is the signed truth; the columns beside it (version, sequence, size, sha256) are
copies for queries and constraints, written from the same values in the one service that stores a release.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from makers.models import ProductModel
from twins.models import Twin


class FirmwarePolicy(models.Model):
    """A model's signing rule. Critical models need `threshold` distinct release officers' signatures (keys in
    `officers`, Ed25519 Multikeys) besides the maker's current key."""

    model = models.OneToOneField(ProductModel, on_delete=models.CASCADE, related_name="firmware_policy")
    critical = models.BooleanField(default=False)
    threshold = models.PositiveSmallIntegerField(default=0)
    officers = models.JSONField(default=list, blank=True)
    # Releases whose maker key was since rotated out are served re-signed by the current key (docs/firmware.md,
    # "Releases made before a rotation") only when the maker says so: a key rotated out because it leaked must
    # not have its releases carried on under the new key.
    reattest = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"policy of {self.model_id}: {self.threshold} of {len(self.officers)}"


class Release(models.Model):
    class Status(models.TextChoices):
        AWAITING = "awaiting", "Awaiting co-signatures"
        PUBLISHED = "published", "Published"
        # Pulled by an organisation admin (firmware.services.release_withdraw): never offered, accepted or served
        # again. Its sequence stays used (rollback protection): the next release must still be higher.
        WITHDRAWN = "withdrawn", "Withdrawn"

    model = models.ForeignKey(ProductModel, on_delete=models.CASCADE, related_name="firmware_releases")
    version = models.CharField(max_length=64)
    sequence = models.PositiveBigIntegerField()
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    payload = models.FileField(upload_to="firmware/%Y/%m/", max_length=200)
    manifest = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    notes = models.TextField(max_length=4000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # When the owners of the model's things were told (firmware.services.release_announce): once per release.
    announced_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawal_reason = models.CharField(max_length=500, blank=True)
    # When the owners of things running it were told it was withdrawn (firmware.services.withdrawal_announce).
    withdrawal_told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model", "-sequence"]
        constraints = [
            # Sequences only grow per model (the rollback check compares them): two releases never share one.
            models.UniqueConstraint(fields=["model", "sequence"], name="firmware_release_sequence_once"),
            models.UniqueConstraint(fields=["model", "version"], name="firmware_release_version_once"),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} {self.version} (#{self.sequence})"


class TwinFirmware(models.Model):
    """The newest release a twin accepted (what its device is offered), and the last version it reported."""

    twin = models.OneToOneField(Twin, on_delete=models.CASCADE, related_name="firmware")
    release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sequence = models.PositiveBigIntegerField(default=0)
    accepted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.twin_id} at #{self.sequence}"


class UpdateCheck(models.Model):
    """One decision of a twin about one release: accepted, or refused with the reason (shown to the owner)."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REFUSED = "refused", "Refused"

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="firmware_checks")
    release = models.ForeignKey(Release, null=True, on_delete=models.SET_NULL, related_name="checks")
    version = models.CharField(max_length=64)
    sequence = models.PositiveBigIntegerField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The twin's panel: its latest decisions.
            models.Index(fields=["twin", "-created_at"], name="firmware_check_twin_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.twin_id} {self.outcome} {self.version}"
