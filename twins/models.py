from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from owners.models import ContactCard

# The icons a twin may show (SVGs shipped in core's static files, by key) and their labels, in words: an emoji
# renders as an empty box where no emoji font is installed (the admin, a server without fonts).
ICONS = {
    "thing": "Thing",
    "coffee": "Coffee",
    "health": "Health",
    "animal": "Animal",
    "vehicle": "Vehicle",
    "home": "Home",
    "tool": "Tool",
    "lock": "Lock",
}


def new_public_id() -> str:
    """128 random bits, URL-safe base64 (22 characters): public twin ids are not guessable."""
    return secrets.token_urlsafe(16)


def new_offer_token() -> str:
    """256 random bits: the offer link is a bearer secret until it is used."""
    return secrets.token_urlsafe(32)


# A twin that moved to another instance, or that is still arriving from one (twins.moving): not live here.
NOT_LIVE = Q(arriving=True) | ~Q(moved_to="")


class TwinQuerySet(models.QuerySet):
    def owned_by(self, owner) -> TwinQuerySet:
        return self.filter(owner=owner)

    def active(self) -> TwinQuerySet:
        return self.filter(archived_at__isnull=True)

    def archived(self) -> TwinQuerySet:
        return self.filter(archived_at__isnull=False)

    def live(self) -> TwinQuerySet:
        """Those that live on this instance: neither moved away nor still arriving (twins.moving)."""
        return self.filter(moved_to="", arriving=False)

    def not_live(self) -> TwinQuerySet:
        return self.filter(NOT_LIVE)


class Twin(ContactCard):
    """The digital twin of one physical thing."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="twins")
    slug = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=120)
    icon = models.CharField(max_length=16, choices=list(ICONS.items()), default="thing")
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

    # Identity: the did:webvh DID and the twin's own agent key (sealed; rotated at every transfer).
    did = models.CharField(max_length=300, blank=True, db_index=True)
    agent_key_sealed = models.BinaryField(null=True, blank=True, editable=False)
    # When the current owner took over (creation or the last transfer), for the public verify page.
    owner_since = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # Ingestion refuses readings of this thing that no registered device key signed (ingest.devices).
    require_device_signature = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Moving to another instance (twins.portability, the moves app). On the source, once the destination has
    # confirmed: the new host's base URL and when; the twin is no longer live here (its pages and tags answer 308
    # there, its DID log stays served). On the destination, from the restore until the source has let go:
    # `arriving` (restored, not yet live).
    moved_to = models.URLField(max_length=300, blank=True)
    moved_at = models.DateTimeField(null=True, blank=True)
    arriving = models.BooleanField(default=False)
    # On the source, from the owner's confirmation of a move until the old host lets go (or the move is called
    # off): the new host's base URL. Nothing new is written for the thing meanwhile (twins.leaving), so nothing
    # accepted here stays behind when the package, built at the confirmation, goes.
    leaving_to = models.URLField(max_length=300, blank=True)

    objects = TwinQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # Cards page: WHERE owner_id = ? AND archived_at IS NULL [AND lost] ORDER BY name, id
            models.Index(fields=["owner", "archived_at", "name", "id"], name="twin_cards_idx"),
            models.Index(fields=["owner", "lost"], name="twin_lost_idx"),
            # The CSV import's lookup of existing things: WHERE owner_id = ? AND serial IN (...)
            models.Index(fields=["owner", "serial"], name="twin_owner_serial_idx"),
            # The owner's things that moved away or are still arriving (twins.moving), above the cards:
            # WHERE owner_id = ? AND (arriving OR moved_to <> ''). Holds only those rows: tiny, whatever the owner has.
            models.Index(fields=["owner"], condition=NOT_LIVE, name="twin_not_live_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="twin_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def contact_card(self) -> ContactCard:
        return self.owner if self.use_profile_contact else self

    # Everything a finder may see of the owner, and lost mode: back to the defaults (nothing shown) when the thing
    # changes hands, so the public page shows the buyer's choices, none until they make them.
    PUBLIC_PAGE_FIELDS = (
        "use_profile_contact",
        *ContactCard.CONTACT_FIELDS,
        "show_photo",
        "show_description",
        "lost",
        "lost_reward",
        "lost_since",
    )

    def public_page_reset(self) -> None:
        for name in self.PUBLIC_PAGE_FIELDS:
            setattr(self, name, self._meta.get_field(name).get_default())


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
    # Who recorded it, when known (a page's or the API's signed-in user: the owner, or a keeper); empty for
    # devices and imports. Shown to the owner through twins.attribution; never part of the signed history.
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Device provenance (ingest.devices): the device's Ed25519 key (Multikey `z6Mk…`), its detached signature
    # (multibase `z…`) and the exact object it signed, so anyone can re-check the signature later with ssi alone.
    device_signed = models.BooleanField(default=False)
    device_key = models.CharField(max_length=64, blank=True)
    signature = models.CharField(max_length=100, blank=True)
    signed_content = models.JSONField(null=True, blank=True)

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
    # Who wrote it (the owner, or a keeper), when known; see Reading.added_by.
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            # Journal on the private page: WHERE twin_id = ? ORDER BY time DESC
            models.Index(fields=["twin", "-time"], name="note_journal_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class DidLogEntry(models.Model):
    """One line of a twin's did.jsonl, exactly as signed."""

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="did_log")
    version_number = models.PositiveIntegerField()
    version_id = models.CharField(max_length=80)
    line = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["twin", "version_number"]
        constraints = [
            # Two transfers racing for the same version: the database lets exactly one in (SECURITY 7).
            models.UniqueConstraint(fields=["twin", "version_number"], name="didlog_one_entry_per_version"),
        ]

    def __str__(self) -> str:
        return self.version_id


class HistoryEntry(models.Model):
    """One entry of a twin's signed, hash-chained history (ssi.history format, kept as signed JSON)."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        READING = "reading", "Reading"
        NOTE = "note", "Journal note"
        SCAN = "scan", "Scan"
        TAG = "tag", "Tag change"
        TRANSFER = "transfer", "Transfer"
        GRANT = "grant", "Grant"
        DEACTIVATED = "deactivated", "Deactivated"
        MESSAGE = "message", "Agent message"
        CREDENTIAL = "credential", "Credential issued or revoked"

    # What a seller may remove before a sale; creation and transfers always stay.
    REDACTABLE = (Kind.READING, Kind.NOTE, Kind.SCAN, Kind.TAG, Kind.MESSAGE)

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="history")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    time = models.DateTimeField()
    entry = models.JSONField()
    redacted = models.BooleanField(default=False)
    # The row this entry commits to (a reading, a note), so deleting it can redact its entries.
    ref_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["twin", "seq"]
        constraints = [
            # The chain cannot fork: one entry per position.
            models.UniqueConstraint(fields=["twin", "seq"], name="history_one_entry_per_seq"),
        ]
        indexes = [
            # Redact by kind at transfer, or the entries of one note: WHERE twin_id = ? AND kind = ? [AND ref_id = ?]
            models.Index(fields=["twin", "kind", "ref_id"], name="history_kind_ref_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.twin_id}#{self.seq} {self.kind}"


class TransferOfferQuerySet(models.QuerySet):
    def pending(self) -> TransferOfferQuerySet:
        return self.filter(status__in=TransferOffer.PENDING)


class TransferOffer(models.Model):
    """A seller's single-use, expiring offer to hand a twin to whoever accepts it first."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWAITING_SELLER = "awaiting_seller", "Accepted, waiting for the seller's signature"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    PENDING = (Status.OPEN, Status.AWAITING_SELLER)

    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="offers")
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=new_offer_token, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    redact_kinds = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The buyer's countersignature: a signed acceptance naming the offer, the twin and the buyer's keys.
    acceptance = models.JSONField(null=True, blank=True)
    # A self-held seller signs these prepared log entries; the new agent key waits here, sealed, until then.
    prepared_entries = models.JSONField(null=True, blank=True)
    pending_agent_sealed = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The thing's name when it changed hands (set with completed_at): what the seller's records of the sale show,
    # not the name a later owner gives it. Empty until then, and for a sale before twins 0020 whose name could not
    # be recovered.
    thing_name = models.CharField(max_length=120, blank=True)

    objects = TransferOfferQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["twin"], condition=Q(status__in=["open", "awaiting_seller"]), name="transfer_one_open_offer"
            ),
        ]

    def __str__(self) -> str:
        return f"offer for {self.twin_id} ({self.status})"

    def name_for(self, viewer_id: int) -> str | None:
        """The thing's name as `viewer_id` may read it on this offer: the current one for its current owner; for
        anyone else (the seller after the sale, a buyer who sold it on) the name it had when it changed hands, or
        None when the offer never completed or that name is not known. A later owner's renaming is theirs."""
        if self.twin.owner_id == viewer_id:
            return self.twin.name
        return self.thing_name or None
