from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from owners.time_zones import validate_time_zone


class ContactCard(models.Model):
    """Contact details a finder may see, each behind its own "show on public page" switch.

    Off by default: a public page shows nothing personal until the owner opts in.
    """

    contact_name = models.CharField(max_length=100, blank=True)
    contact_email = models.EmailField(max_length=254, blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    contact_message = models.TextField(max_length=1000, blank=True)
    show_name = models.BooleanField(default=False)
    show_email = models.BooleanField(default=False)
    show_phone = models.BooleanField(default=False)
    show_message = models.BooleanField(default=False)

    # Each value, then its switch: the order forms show them in. The one list the forms, services and API use.
    CONTACT_FIELDS = (
        "contact_name",
        "show_name",
        "contact_email",
        "show_email",
        "contact_phone",
        "show_phone",
        "contact_message",
        "show_message",
    )
    CONTACT_LABELS = {
        "contact_name": "Name",
        "contact_email": "Email",
        "contact_phone": "Phone",
        "contact_message": "Message to finders",
    }

    class Meta:
        abstract = True

    def public_contact(self) -> dict[str, str]:
        """Only the switched-on, non-empty fields."""
        fields = {
            "name": (self.show_name, self.contact_name),
            "email": (self.show_email, self.contact_email),
            "phone": (self.show_phone, self.contact_phone),
            "message": (self.show_message, self.contact_message),
        }
        return {key: value for key, (shown, value) in fields.items() if shown and value}


class Owner(AbstractUser, ContactCard):
    """A person or organisation that owns things. Sign-in identity and default contact card."""

    # Their own IANA time zone (owners.time_zones), preferred over the browser's; empty: the browser's.
    time_zone = models.CharField("time zone", max_length=64, blank=True, validators=[validate_time_zone])

    class Meta:
        verbose_name = "owner"
        constraints = [
            # Case-insensitive uniqueness so password reset reaches exactly one account.
            models.UniqueConstraint(
                models.functions.Lower("email"), condition=~Q(email=""), name="owner_email_unique_ci"
            ),
        ]

    def __str__(self) -> str:
        return self.username


class NotificationQuerySet(models.QuerySet):
    def for_owner(self, owner: Owner) -> NotificationQuerySet:
        return self.filter(owner=owner)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """An inbox item: a finder's message, "your thing was scanned", later transfers and recalls."""

    class Kind(models.TextChoices):
        MESSAGE = "message", "Message from a finder"
        SCAN = "scan", "Scan"
        AGENT = "agent", "Message to an agent"
        SYSTEM = "system", "Notice"
        RECALL = "recall", "Recall"
        INTRODUCTION = "introduction", "Introduction"
        REQUEST = "request", "Request for data"

    owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="notifications")
    twin = models.ForeignKey("twins.Twin", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=4000, blank=True)
    sender_name = models.CharField(max_length=100, blank=True)
    sender_contact = models.CharField(max_length=254, blank=True)
    # Where the item's action is (accept an introduction, answer a request, read a recall): a path on this site.
    action_url = models.CharField(max_length=500, blank=True)
    action_label = models.CharField(max_length=80, blank=True)
    # How many events this item stands for (coalesced scans).
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set once the email went out (owners.tasks.send_notification_email): a re-run of the task after a crash
    # sends nothing again.
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            # Inbox page and unread badge: WHERE owner_id = ? [AND read_at IS NULL] ORDER BY updated_at DESC
            models.Index(fields=["owner", "read_at", "-updated_at"], name="notification_inbox_idx"),
            # Scan coalescing: latest unread scan notification of a twin.
            models.Index(fields=["twin", "kind", "-updated_at"], name="notification_coalesce_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class OwnerKey(models.Model):
    """An owner's Ed25519 update keys: `current` signs, `next` is pre-committed (did:webvh pre-rotation).

    Platform-held keys keep their seed sealed under KEY_ENCRYPTION_KEY. A self-held key keeps no seed here:
    for `current` we store its public key, for `next` only its pre-rotation hash until it is revealed.
    """

    class Role(models.TextChoices):
        CURRENT = "current", "Current"
        NEXT = "next", "Next (pre-committed)"

    owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="keys")
    role = models.CharField(max_length=8, choices=Role.choices)
    public_multibase = models.CharField(max_length=64, blank=True)
    next_key_hash = models.CharField(max_length=64)
    sealed_seed = models.BinaryField(null=True, blank=True, editable=False)
    self_held = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One active key per role: signing code never has to choose.
            models.UniqueConstraint(
                fields=["owner", "role"], condition=Q(retired_at__isnull=True), name="ownerkey_one_active_per_role"
            ),
            models.CheckConstraint(
                condition=Q(self_held=True) | Q(sealed_seed__isnull=False), name="ownerkey_platform_key_has_seed"
            ),
        ]
        indexes = [
            # Which owner holds a key named in a DID log: WHERE public_multibase = ? / next_key_hash = ?
            models.Index(fields=["public_multibase"], name="ownerkey_public_idx"),
            models.Index(fields=["next_key_hash"], name="ownerkey_hash_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.role} {self.public_multibase or self.next_key_hash}"
