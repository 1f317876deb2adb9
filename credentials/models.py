"""Ownership credentials, the status lists that revoke them, and the verifier's policies and sessions."""

from __future__ import annotations

import functools
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from credentials.stored import StoredCredential
from ssi.statuslist import MIN_LENGTH, Bitstring
from twins.models import Twin, new_public_id


class AllClear(Bitstring):
    """A status list with every bit clear, read only: its ``encodedList`` (a GZIP of 16 KiB) is computed once per
    length, not once per list signed (a new thing's list, issue 16)."""

    __slots__ = ()

    def set(self, index: int) -> None:
        raise TypeError("an all-clear list is read only: change StatusList.bitstring()'s copy")

    def encode(self) -> str:
        return _all_clear_encoding(len(self))


@functools.lru_cache(maxsize=4)
def _all_clear_encoding(length: int) -> str:
    return Bitstring(length).encode()


class StatusList(models.Model):
    """A twin's Bitstring Status List: one bit per ownership credential the twin ever issued.

    Issued by the twin's DID, as its credentials are (ssi.credentials accepts a status list only from the
    credential's own issuer). The signed list credential is kept as served, re-signed only when a bit changes.

    `bits` is stored empty while every bit is clear (most things never revoke anything, and 16 KiB of zeros a
    thing was most of what a 10,000-row import wrote, issue 16); the first revocation stores the whole bitstring.
    Read them through :meth:`bitstring`: an empty list is all clear, `length` entries, published exactly as a
    stored all-zero one.
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    twin = models.OneToOneField(Twin, on_delete=models.CASCADE, related_name="status_list")
    length = models.PositiveIntegerField(default=MIN_LENGTH)
    bits = models.BinaryField(editable=False)  # empty: all clear (see bitstring())
    # The next free index: indices are handed out in order and never reused (a reused bit would revive or
    # revoke a credential that is not its own).
    next_index = models.PositiveIntegerField(default=0)
    document = models.TextField(blank=True, editable=False)  # the signed BitstringStatusListCredential, as served
    etag = models.CharField(max_length=80, blank=True, editable=False)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(next_index__lte=models.F("length")), name="statuslist_index_in_range"),
        ]

    def __str__(self) -> str:
        return f"status list {self.public_id} of twin {self.twin_id}"

    def bitstring(self) -> Bitstring:
        """The list's bits (a copy to change and store back with :meth:`keep`)."""
        if not len(self.bits):
            return Bitstring(self.length)
        return Bitstring.from_bytes(bytes(self.bits))

    def keep(self, bits: Bitstring) -> None:
        """Set `bits` to be stored (not saved): empty while all are clear."""
        data = bits.to_bytes()
        self.bits = b"" if data == bytes(len(data)) else data


class OwnershipCredentialQuerySet(models.QuerySet):
    def standing(self) -> OwnershipCredentialQuerySet:
        return self.filter(revoked_at__isnull=True)


class OwnershipCredential(StoredCredential, models.Model):
    """A twin's statement, signed by its agent key, that `holder` owns it (VC DM 2.0, eddsa-jcs-2022)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="ownership_credentials")
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credentials")
    holder_did = models.CharField(max_length=200)
    status_list = models.ForeignKey(StatusList, on_delete=models.PROTECT, related_name="credentials")
    status_index = models.PositiveIntegerField()
    document = models.TextField(editable=False)  # the signed credential, byte for byte as issued
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = OwnershipCredentialQuerySet.as_manager()

    class Meta:
        constraints = [
            # Never two credentials on one bit.
            models.UniqueConstraint(fields=["status_list", "status_index"], name="credential_one_per_status_bit"),
            # One standing ownership credential per twin: a transfer revokes the old one as it issues the new.
            models.UniqueConstraint(
                fields=["twin"], condition=Q(revoked_at__isnull=True), name="credential_one_standing_per_twin"
            ),
        ]
        indexes = [
            # The wallet: WHERE holder_id = ? ORDER BY issued_at DESC
            models.Index(fields=["holder", "-issued_at"], name="credential_wallet_idx"),
        ]

    def __str__(self) -> str:
        return f"ownership of twin {self.twin_id} by {self.holder_id}"


class VerifierPolicy(models.Model):
    """A shop's rule for what it accepts: ownership credentials issued by a twin whose model is on its list."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verifier_policies")
    name = models.CharField(max_length=120)
    accepted_models = models.JSONField(default=list)  # exact `model` values, as the twins' owners spell them
    # DIDs of manufacturers: when set, the thing must hold a standing authenticity credential of one of them, and
    # the model checked is the one that credential names (its maker's spelling, not the owner's).
    manufacturers = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "verifier policies"
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="verifierpolicy_one_name_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name


def new_challenge() -> str:
    return secrets.token_urlsafe(24)


class VerifierSession(models.Model):
    """One presentation request: the challenge and domain the verifier gave the holder, until it expires."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    challenge = models.CharField(max_length=64, default=new_challenge, editable=False)
    domain = models.CharField(max_length=200)
    policy = models.ForeignKey(VerifierPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # Set when a presentation passed: the challenge is spent, a replay of the same presentation is refused.
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Sweeping old sessions: WHERE expires_at < ?
            models.Index(fields=["expires_at"], name="verifiersession_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"verifier session {self.public_id}"


class AccessCredentialQuerySet(models.QuerySet):
    def standing(self, now) -> AccessCredentialQuerySet:
        """Neither revoked nor past its expiry at `now`."""
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class AccessCredential(StoredCredential, models.Model):
    """A twin's statement, signed by its agent key, that someone may act on it for its owner (VC DM 2.0,
    eddsa-jcs-2022, a bit on the twin's status list): a keeper or a service party (an account here, `holder`), or
    an emergency grant's recipient (whoever holds the grant's link: no account, `grant`)."""

    class Role(models.TextChoices):
        KEEPER = "keeper", "Keeper"
        SERVICE = "service", "Service access"
        EMERGENCY = "emergency", "Emergency access"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="access_credentials")
    role = models.CharField(max_length=16, choices=Role.choices)
    # The owner who issued it: it gives nothing once the twin has another owner (a transfer also revokes it).
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="access_credentials"
    )
    holder_did = models.CharField(max_length=200, blank=True)
    grant = models.ForeignKey(
        "EmergencyGrant", null=True, blank=True, on_delete=models.CASCADE, related_name="credentials"
    )
    capabilities = models.JSONField(default=list)  # twins.access capabilities; for emergency, the reading kinds
    status_list = models.ForeignKey(StatusList, on_delete=models.PROTECT, related_name="access_credentials")
    status_index = models.PositiveIntegerField()
    document = models.TextField(editable=False)  # the signed credential, byte for byte as issued
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)  # "owner", "transfer"

    objects = AccessCredentialQuerySet.as_manager()

    class Meta:
        constraints = [
            # Indices come from the list's next_index, shared with ownership credentials: never two on one bit.
            models.UniqueConstraint(fields=["status_list", "status_index"], name="accesscredential_one_per_bit"),
            models.CheckConstraint(
                condition=(Q(role="emergency", holder__isnull=True, grant__isnull=False))
                | (~Q(role="emergency") & Q(holder__isnull=False, grant__isnull=True)),
                name="accesscredential_holder_or_grant",
            ),
            # A service access is time-boxed.
            models.CheckConstraint(
                condition=~Q(role="service") | Q(expires_at__isnull=False), name="accesscredential_service_expires"
            ),
        ]
        indexes = [
            # Every request of a non-owner: WHERE holder_id = ? AND twin_id = ? AND revoked_at IS NULL
            models.Index(fields=["holder", "twin", "revoked_at"], name="accesscred_holder_twin_idx"),
            # The owner's keepers page and the transfer's revocation: WHERE twin_id = ? AND role = ?
            models.Index(fields=["twin", "role"], name="accesscred_twin_role_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role} of twin {self.twin_id} for {self.holder_id or self.grant_id}"


class EmergencyGrant(models.Model):
    """A guardian opens chosen reading kinds of chosen twins to a rescuer, through a secret link, until
    `valid_until` or revocation, whichever comes first. Only the link token's SHA-256 is kept."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    guardian = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="emergency_grants")
    recipient = models.CharField(max_length=120)  # who it is for, in the guardian's words ("Mountain rescue")
    kinds = models.JSONField(default=list)  # reading kinds ("location", "glucose")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    valid_until = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The guardian's page: WHERE guardian_id = ? ORDER BY created_at DESC
            models.Index(fields=["guardian", "-created_at"], name="emergencygrant_guardian_idx"),
        ]

    def __str__(self) -> str:
        return f"emergency access for {self.recipient}"

    def active(self, now) -> bool:
        return self.revoked_at is None and now < self.valid_until


class EmergencyAccess(models.Model):
    """One opening of an emergency link (the page, or its live connection), for the guardian's log."""

    class Channel(models.TextChoices):
        PAGE = "page", "Opened the page"
        LIVE = "live", "Connected for live updates"
        PRESENT = "present", "Presented the credential"

    grant = models.ForeignKey(EmergencyGrant, on_delete=models.CASCADE, related_name="accesses")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    at = models.DateTimeField(auto_now_add=True)
    client = models.CharField(max_length=64, blank=True)  # a keyed hash of the address (core.ratelimit.client_id)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} of grant {self.grant_id} at {self.at}"


# Authenticity credentials and the issuers' status lists (their own module; registered with this app here).
from credentials.authenticity_models import AuthenticityCredential, IssuerStatusList  # noqa: E402, F401
