"""Authenticity credentials: a manufacturer's statement, signed by its organisation's DID, that it made a thing
(model, serial, GTIN, production date), and the issuer status lists that revoke them (a counterfeit serial, a
recall).

The issuer is not a twin, so neither the credential nor its status list hangs on the twin's own status list:
both name the issuer by its DID (a string), which keeps this app free of any reference to the organisations of
the makers app above it (makers signs and passes the key in; see credentials.authenticity).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from credentials.stored import StoredCredential
from ssi.statuslist import MIN_LENGTH
from twins.models import Twin, new_public_id


class IssuerStatusList(models.Model):
    """A Bitstring Status List of an issuer that is not a twin (an organisation's DID), one bit per credential.
    Indices are handed out in order and never reused; a full list is followed by a fresh one."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    issuer_did = models.CharField(max_length=300)
    length = models.PositiveIntegerField(default=MIN_LENGTH)
    bits = models.BinaryField(editable=False)
    next_index = models.PositiveIntegerField(default=0)
    document = models.TextField(blank=True, editable=False)  # the signed BitstringStatusListCredential, as served
    etag = models.CharField(max_length=80, blank=True, editable=False)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(next_index__lte=F("length")), name="issuerstatuslist_index_in_range"),
        ]
        indexes = [
            # The list with room for a batch: WHERE issuer_did = ? ORDER BY id DESC
            models.Index(fields=["issuer_did", "-id"], name="issuerstatuslist_issuer_idx"),
        ]

    def __str__(self) -> str:
        return f"status list {self.public_id} of {self.issuer_did}"


class AuthenticityCredentialQuerySet(models.QuerySet):
    def standing(self) -> AuthenticityCredentialQuerySet:
        return self.filter(revoked_at__isnull=True)


class AuthenticityCredential(StoredCredential, models.Model):
    """A manufacturer's signed statement that it made `twin` (VC DM 2.0, eddsa-jcs-2022, a bit on one of the
    issuer's status lists). It stays with the thing through every sale: its holder is whoever owns the twin."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="authenticity_credentials")
    issuer_did = models.CharField(max_length=300)
    model = models.CharField(max_length=200)  # the model as its maker names it (the twin's name may change)
    serial = models.CharField(max_length=100)
    status_list = models.ForeignKey(IssuerStatusList, on_delete=models.PROTECT, related_name="credentials")
    status_index = models.PositiveIntegerField()
    document = models.TextField(editable=False)  # the signed credential, byte for byte as issued
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)  # the maker's words: "counterfeit", "recalled"

    objects = AuthenticityCredentialQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["status_list", "status_index"], name="authenticity_one_per_status_bit"),
            # One standing statement per thing and maker.
            models.UniqueConstraint(
                fields=["twin", "issuer_did"], condition=Q(revoked_at__isnull=True), name="authenticity_one_standing"
            ),
        ]
        indexes = [
            # The wallet and the verifier's policy: WHERE twin_id IN (...) / twin_id = ? AND issuer_did = ?
            models.Index(fields=["twin", "issuer_did"], name="authenticity_twin_issuer_idx"),
            # The maker's revocation by serial: WHERE issuer_did = ? AND serial = ?
            models.Index(fields=["issuer_did", "serial"], name="authenticity_issuer_serial_idx"),
        ]

    def __str__(self) -> str:
        return f"authenticity of twin {self.twin_id} by {self.issuer_did}"
