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

    @property
    def nfc_url(self) -> str:
        """The URL an ordinary NFC chip carries: the tag's URL marked so that the scan is recorded as a tap."""
        return f"{self.url}?nfc=1"


class SunKeys(models.Model):
    """The AES keys of an NTAG 424 DNA chip programmed for Secure Unique NFC (SUN) messages, and the state that
    tells a genuine tap from a replayed one (tags.nfc).

    Keys are sealed at rest (core.vault) and leave the platform once, in the provisioning file; `*_kcv` are
    their key check values (tags.sun.key_check_value), which identify a key without revealing it.
    """

    tag = models.OneToOneField(Tag, on_delete=models.CASCADE, related_name="sun_keys")
    # Key 0 (application master key): only the owner's programming tool uses it, to change the chip's settings.
    master_key = models.BinaryField()
    # Key 1: decrypts the PICCData (UID and read counter) mirrored into the URL.
    meta_read_key = models.BinaryField()
    # Key 2: derives the session keys of the URL's MAC and of its encrypted file data.
    file_read_key = models.BinaryField()
    meta_read_kcv = models.CharField(max_length=6)
    file_read_kcv = models.CharField(max_length=6)
    # The chip's 7-byte UID (hex), bound at its first genuine tap: the keys of one chip on another fail.
    uid = models.CharField(max_length=14, blank=True)
    # The highest read counter of a genuine tap; -1 before the first. Only a higher one is genuine.
    last_counter = models.IntegerField(default=-1)
    provisioned_at = models.DateTimeField(default=timezone.now)
    last_tap_at = models.DateTimeField(null=True, blank=True)
    # Set when the thing changes hands (twins.events.Transferred): the seller saw these keys at provisioning and
    # may have kept them, so a tap they verify proves nothing to the new owner until the chip is re-keyed.
    known_to_previous_owner = models.BooleanField(default=False)
    # After a replacement (tags.nfc.sun_provision(replace=True)): the keys the chip still carries until it is
    # programmed again. Taps under them are still checked (with their own UID binding and counter) until the first
    # verified tap under the new keys, which destroys them. Null when no replacement is pending.
    previous_master_key = models.BinaryField(null=True, blank=True)
    previous_meta_read_key = models.BinaryField(null=True, blank=True)
    previous_file_read_key = models.BinaryField(null=True, blank=True)
    previous_meta_read_kcv = models.CharField(max_length=6, blank=True)
    previous_file_read_kcv = models.CharField(max_length=6, blank=True)
    previous_uid = models.CharField(max_length=14, blank=True)
    previous_last_counter = models.IntegerField(default=-1)
    previous_known_to_previous_owner = models.BooleanField(default=False)
    # When the pending replacement was issued; null again once a tap under the new keys confirms it.
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SUN keys"
        verbose_name_plural = "SUN keys"
        indexes = [
            # The startup check for factory/example keys (tags.nfc_checks): WHERE meta_read_kcv IN (...) OR ...
            models.Index(fields=["meta_read_kcv"], name="sunkeys_meta_kcv_idx"),
            models.Index(fields=["file_read_kcv"], name="sunkeys_file_kcv_idx"),
        ]

    def __str__(self) -> str:
        return f"SUN keys of {self.tag_id}"

    @property
    def replacement_pending(self) -> bool:
        """New keys issued, and no tap under them yet: the chip may still carry the previous ones."""
        return self.replaced_at is not None

    @property
    def trusted(self) -> bool:
        """Whether a verified tap under the current keys proves the chip is in hand (no one but the owner
        has held these keys)."""
        return not self.known_to_previous_owner


class NfcSetting(models.Model):
    """A thing's owner's choices about NFC taps (tags.nfc): for now, whether a one-tap reading logged from a
    scan of its tag needs a genuine NTAG 424 DNA tap (a keeper's check-in that proves the thing was in hand)."""

    twin = models.OneToOneField("twins.Twin", on_delete=models.CASCADE, related_name="nfc_setting")
    genuine_tap_for_readings = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"NFC settings of {self.twin_id}"


class Scan(models.Model):
    """One opening of a tag URL. No IP address is stored; rate limiting keeps its own short-lived counters."""

    class Source(models.TextChoices):
        LINK = "link", "Link (QR code, printed or typed)"
        NFC = "nfc", "NFC tap"
        GENUINE = "nfc-genuine", "NFC tap, genuine tag"

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="scans")
    twin = models.ForeignKey("twins.Twin", null=True, blank=True, on_delete=models.CASCADE, related_name="scans")
    time = models.DateTimeField(default=timezone.now)
    by_owner = models.BooleanField(default=False)
    # Coarse: "Android phone / Chrome", never the full header.
    user_agent = models.CharField(max_length=60, blank=True)
    # How the URL was opened: an NFC chip's URL says so (?nfc=1, or SUN parameters); "genuine" only for a SUN tap
    # that verified with a fresh counter (tags.nfc). A copied NFC URL is an ordinary "nfc" scan.
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.LINK)
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
