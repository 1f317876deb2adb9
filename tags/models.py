from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from tags.codes import format_short_code, new_short_code, new_token


class TagQuerySet(models.QuerySet):
    def active(self) -> TagQuerySet:
        return self.filter(status=Tag.Status.ACTIVE)


class Tag(models.Model):
    """A physical carrier (QR sticker, NFC chip) that resolves to a twin.

    `token` (128+ random bits) is in the printed URL; `code` is the short form a person types in.
    """

    class Status(models.TextChoices):
        UNASSIGNED = "unassigned", "Unassigned (pre-printed)"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    token = models.CharField(max_length=43, unique=True, default=new_token, editable=False)
    code = models.CharField(max_length=8, unique=True, default=new_short_code, editable=False)
    twin = models.ForeignKey("twins.Twin", null=True, blank=True, on_delete=models.CASCADE, related_name="tags")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    label = models.CharField(max_length=80, blank=True)
    batch = models.CharField(max_length=40, blank=True, help_text="Pre-printed batch name.")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="unassigned", twin__isnull=True) | ~Q(status="unassigned")),
                name="tag_unassigned_has_no_twin",
            ),
            models.CheckConstraint(
                condition=(Q(status="active", twin__isnull=False) | ~Q(status="active")),
                name="tag_active_has_twin",
            ),
        ]
        indexes = [
            # Tag list of a thing and the tag count on cards: WHERE twin_id = ? AND status = ?
            models.Index(fields=["twin", "status"], name="tag_twin_status_idx"),
        ]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        return reverse("tag-scan", args=[self.token])

    @property
    def display_code(self) -> str:
        """ABCD-EFGH, as printed on labels."""
        return format_short_code(self.code)

    @property
    def url(self) -> str:
        """The full URL a QR code carries; SITE_URL keeps it stable whichever host served the page."""
        return f"{settings.SITE_URL}/t/{self.token}"


class Scan(models.Model):
    """One opening of a tag URL. No IP address is stored; rate limiting keeps its own short-lived counters."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="scans")
    twin = models.ForeignKey("twins.Twin", null=True, blank=True, on_delete=models.CASCADE, related_name="scans")
    time = models.DateTimeField(default=timezone.now)
    by_owner = models.BooleanField(default=False)
    # Coarse: "Android phone / Chrome", never the full header.
    user_agent = models.CharField(max_length=60, blank=True)
    # Scans enter the twin's signed history shortly after, in batches (tags.history), off the hot path.
    in_history = models.BooleanField(default=False)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            # Scan list on the private page: WHERE twin_id = ? ORDER BY time DESC
            models.Index(fields=["twin", "-time"], name="scan_recent_idx"),
            # Scans still to be written into the history: WHERE twin_id = ? AND NOT in_history
            models.Index(fields=["twin"], condition=Q(in_history=False), name="scan_pending_history_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tag_id} at {self.time:%Y-%m-%d %H:%M}"
