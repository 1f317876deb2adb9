from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from owners.models import ContactCard

ICONS = {
    "thing": "📦",
    "coffee": "☕",
    "health": "🩺",
    "animal": "🐄",
    "vehicle": "🚲",
    "home": "🏠",
    "tool": "🔧",
    "lock": "🔒",
}


def new_public_id() -> str:
    """128 random bits, URL-safe base64 (22 characters): public twin ids are not guessable."""
    return secrets.token_urlsafe(16)


class TwinQuerySet(models.QuerySet):
    def owned_by(self, owner) -> TwinQuerySet:
        return self.filter(owner=owner)

    def active(self) -> TwinQuerySet:
        return self.filter(archived_at__isnull=True)

    def archived(self) -> TwinQuerySet:
        return self.filter(archived_at__isnull=False)


class Twin(ContactCard):
    """The digital twin of one physical thing."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="twins")
    slug = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=120)
    icon = models.CharField(
        max_length=16, choices=[(key, f"{glyph} {key.title()}") for key, glyph in ICONS.items()], default="thing"
    )
    model_name = models.CharField("model", max_length=120, blank=True)
    serial = models.CharField(max_length=120, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    photo = models.ImageField(upload_to="photos/%Y/%m/", blank=True)
    description = models.TextField(max_length=2000, blank=True)

    # The one-tap reading form logs this kind, in this unit.
    reading_kind = models.CharField(max_length=40, default="reading")
    reading_unit = models.CharField(max_length=20, blank=True)

    # Public page: what a finder sees.
    use_profile_contact = models.BooleanField(
        default=True, help_text="Use the contact card from my profile instead of the one below."
    )
    show_thing_name = models.BooleanField(default=True)
    show_photo = models.BooleanField(default=False)
    show_description = models.BooleanField(default=False)
    lost = models.BooleanField(default=False)
    lost_reward = models.CharField(max_length=200, blank=True)
    lost_since = models.DateTimeField(null=True, blank=True)

    # Latest reading, kept on the row so the cards page needs no per-card query.
    latest_value = models.FloatField(null=True, blank=True)
    latest_unit = models.CharField(max_length=20, blank=True)
    latest_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = TwinQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # Cards page: WHERE owner_id = ? AND archived_at IS NULL [AND lost] ORDER BY name, id
            models.Index(fields=["owner", "archived_at", "name", "id"], name="twin_cards_idx"),
            models.Index(fields=["owner", "lost"], name="twin_lost_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="twin_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def icon_glyph(self) -> str:
        return ICONS.get(self.icon, ICONS["thing"])

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def contact_card(self) -> ContactCard:
        return self.owner if self.use_profile_contact else self


class Reading(models.Model):
    """One measurement. Plain time-series row for fast charts; the signed history commits to it later."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        TAG = "tag", "Tag scan"
        API = "api", "API"
        DEMO = "demo", "Demo data"

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="readings")
    kind = models.CharField(max_length=40)
    value = models.FloatField()
    unit = models.CharField(max_length=20, blank=True)
    time = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            # Private page chart and API: WHERE twin_id = ? [AND kind = ?] ORDER BY time DESC
            models.Index(fields=["twin", "kind", "-time"], name="reading_series_idx"),
            models.Index(fields=["twin", "-time"], name="reading_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.value} {self.unit}".strip()


class JournalNote(models.Model):
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="notes")
    title = models.CharField(max_length=200)
    text = models.TextField(max_length=10000, blank=True)
    time = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            # Journal on the private page: WHERE twin_id = ? ORDER BY time DESC
            models.Index(fields=["twin", "-time"], name="note_journal_idx"),
        ]

    def __str__(self) -> str:
        return self.title
