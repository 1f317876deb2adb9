"""Organisations (manufacturers, vet practices, repair shops), their product models, production and recalls.

An organisation acts through an **account**: an Owner row of its own that nobody signs in as. Its keys are the
organisation's keys (the first update key of every twin it produces), its DIDComm agent is the organisation's
agent, and the twins it has produced and not yet handed to a buyer are that account's twins. So production is
`twin_create` by the account and a claim is the normal transfer from the account to the buyer, which the claim
code pre-authorizes. People act for the organisation as its members.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from twins.models import Twin


class Organisation(models.Model):
    class Kind(models.TextChoices):
        MANUFACTURER = "manufacturer", "Manufacturer"
        VET = "vet", "Vet practice"
        REPAIR = "repair", "Repair shop"
        INSURER = "insurer", "Insurer"
        OTHER = "other", "Other"

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MANUFACTURER)
    description = models.TextField(max_length=2000, blank=True)
    website = models.URLField(max_length=500, blank=True)
    support_url = models.URLField(max_length=500, blank=True)
    # The account the organisation acts through (its keys, its agent, the twins it holds before a claim).
    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="organisation")
    # Its public did:webvh DID (/orgs/<slug>/did.jsonl), set when created.
    did = models.CharField(max_length=300, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "owner"], name="membership_once")]

    def __str__(self) -> str:
        return f"{self.owner} {self.role} of {self.organisation}"


class MemberInvitation(models.Model):
    """An admin's single-use invitation (a link) to join the organisation in a role."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=8, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"invitation to {self.organisation_id} as {self.role}"


class OrganisationDidLogEntry(models.Model):
    """One line of the organisation's did:webvh log, exactly as served (public)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="did_log")
    version_number = models.PositiveIntegerField()
    version_id = models.CharField(max_length=120)
    line = models.TextField()

    class Meta:
        ordering = ["organisation", "version_number"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "version_number"], name="org_didlog_one_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id} v{self.version_number}"


class OrganisationToken(models.Model):
    """An organisation-scoped API token (production, recalls, reading what was received). Only its hash is kept;
    the token is shown once."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="tokens")
    label = models.CharField(max_length=80, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)  # what the token list shows, never the token
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.label})"


class ProductModel(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="product_models")
    name = models.CharField(max_length=120)
    gtin = models.CharField(max_length=14, unique=True)  # GTIN-14, check digit verified (makers.gs1)
    icon = models.CharField(max_length=16, default="thing")
    description = models.TextField(max_length=4000, blank=True)
    # [{"kind": "temperature", "unit": "°C"}, ...]: what things of this model report.
    reading_kinds = models.JSONField(default=list, blank=True)
    # {"gs1:instructions": "https://...", "gs1:support": "https://..."}: extra links the resolver serves.
    links = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.gtin})"


class ProductDocument(models.Model):
    class Kind(models.TextChoices):
        MANUAL = "manual", "Manual"
        SAFETY = "safety", "Safety sheet"
        OTHER = "other", "Document"

    model = models.ForeignKey(ProductModel, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.MANUAL)
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to="documents/%Y/%m/")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class ProductionBatch(models.Model):
    model = models.ForeignKey(ProductModel, on_delete=models.CASCADE, related_name="batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"batch {self.pk} of {self.model_id} ({self.count})"


class ProducedThing(models.Model):
    """A twin a manufacturer produced: its model and serial, and the claim code printed inside the box (hashed)."""

    twin = models.OneToOneField(Twin, on_delete=models.CASCADE, related_name="produced")
    model = models.ForeignKey(ProductModel, on_delete=models.PROTECT, related_name="things")
    serial = models.CharField(max_length=20)  # GS1 AI 21: up to 20 characters of the GS1 URI set
    batch = models.ForeignKey(ProductionBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="things")
    produced_at = models.DateTimeField(auto_now_add=True)
    claim_code_hash = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "serial"], name="produced_serial_once_per_model")]
        indexes = [models.Index(fields=["model", "claimed_at"], name="produced_claimed_idx")]

    def __str__(self) -> str:
        return f"{self.model_id}/{self.serial}"


class Recall(models.Model):
    class Severity(models.TextChoices):
        INFO = "info", "Information"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Stop using"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="recalls")
    model = models.ForeignKey(ProductModel, on_delete=models.CASCADE, related_name="recalls")
    title = models.CharField(max_length=200)
    text = models.TextField(max_length=4000)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    link = models.URLField(max_length=500, blank=True)
    # Which things: all of the model (both empty), a list of serials, or a range (inclusive, compared as text of
    # equal length, or as numbers when both ends are digits).
    serials = models.JSONField(default=list, blank=True)
    serial_from = models.CharField(max_length=20, blank=True)
    serial_to = models.CharField(max_length=20, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    affected = models.PositiveIntegerField(default=0)  # things reached by the fan-out
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class RecallNotice(models.Model):
    """The recall as it reached one affected thing's owner (whoever owned it at fan-out)."""

    recall = models.ForeignKey(Recall, on_delete=models.CASCADE, related_name="notices")
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="recall_notices")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recall", "twin"], name="recall_notice_once_per_twin")]
        indexes = [models.Index(fields=["twin", "recall"], name="recall_notice_twin_idx")]

    def __str__(self) -> str:
        return f"recall {self.recall_id} to twin {self.twin_id}"
