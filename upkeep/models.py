from __future__ import annotations

import secrets
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q


class Purchase(models.Model):
    """When, where and for how much the owner bought a thing, and until when its warranty runs. One per twin."""

    twin = models.OneToOneField("twins.Twin", on_delete=models.CASCADE, primary_key=True, related_name="purchase")
    purchased_on = models.DateField(null=True, blank=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, blank=True, help_text="ISO 4217 code, like EUR or USD.")
    bought_from = models.CharField("where bought", max_length=200, blank=True)
    warranty_ends = models.DateField(null=True, blank=True)
    # The warranty end the reminder went out for: a reminder claims it with a conditional UPDATE, so each end
    # date is reminded of once, whoever runs the reminders and however often; a new end date is reminded again.
    warranty_reminded_for = models.DateField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Reminders: WHERE warranty_ends BETWEEN today AND today + lead
            models.Index(fields=["warranty_ends"], name="upkeep_warranty_ends_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__isnull=True) | ~Q(currency=""), name="upkeep_price_has_currency"),
            models.CheckConstraint(condition=Q(price__isnull=True) | Q(price__gte=0), name="upkeep_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Purchase of {self.twin_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    """A random name under the private media folder: the owner's file name never reaches the file system."""
    return f"upkeep/{instance.twin_id}/{secrets.token_urlsafe(16)}{instance.extension}"


class Attachment(models.Model):
    """A receipt, a manual or another document of a thing: a private file, served only through an access check."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        MANUAL = "manual", "Manual"
        OTHER = "other", "Other"

    EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}

    twin = models.ForeignKey("twins.Twin", on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RECEIPT)
    title = models.CharField(max_length=120, blank=True)
    filename = models.CharField(max_length=120)  # sanitised, for Content-Disposition
    content_type = models.CharField(max_length=40)  # from the file's magic bytes, never from the client
    size = models.PositiveIntegerField()
    file = models.FileField(upload_to=attachment_path, max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The panel and the API list: WHERE twin_id = ? ORDER BY created_at DESC
            models.Index(fields=["twin", "-created_at"], name="upkeep_attachment_twin_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.filename

    @property
    def extension(self) -> str:
        return self.EXTENSIONS.get(self.content_type, "")


class ScheduleQuerySet(models.QuerySet):
    def due_by(self, day) -> ScheduleQuerySet:
        return self.filter(next_due__lte=day)


class Schedule(models.Model):
    """A maintenance task that comes back: "descale every 3 months". Marking it done logs a journal entry on the
    twin and moves `next_due` one interval past the day it was done."""

    class Unit(models.TextChoices):
        DAYS = "days", "days"
        WEEKS = "weeks", "weeks"
        MONTHS = "months", "months"
        YEARS = "years", "years"

    twin = models.ForeignKey("twins.Twin", on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=120)
    every = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.MONTHS)
    last_done = models.DateField(null=True, blank=True)
    next_due = models.DateField()
    # The due date the reminder went out for (claimed with a conditional UPDATE: once per due date).
    reminded_for = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["next_due", "id"]
        indexes = [
            # Reminders: WHERE next_due <= today; the panel: WHERE twin_id = ? ORDER BY next_due
            models.Index(fields=["next_due"], name="upkeep_schedule_due_idx"),
            models.Index(fields=["twin", "next_due"], name="upkeep_schedule_twin_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="upkeep_schedule_name_not_empty"),
            models.CheckConstraint(condition=Q(every__gte=1), name="upkeep_schedule_every_positive"),
            models.CheckConstraint(
                condition=Q(last_done__isnull=True) | Q(next_due__gt=F("last_done")),
                name="upkeep_schedule_due_after_done",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def interval_text(self) -> str:
        unit = self.get_unit_display()
        return f"every {unit[:-1]}" if self.every == 1 else f"every {self.every} {unit}"
