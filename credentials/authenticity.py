"""Authenticity credentials: issuing them in bulk (a production batch), revoking one (a counterfeit or recalled
serial), and reading an issuer's DID log for verification, through a seam.

The issuer is a manufacturer's organisation, which lives in the makers app above this one: this module never
looks it up. The maker hands in an :class:`Issuer` (its DID, the key its DID document lists under
``assertionMethod``, and the time to sign at) and registers, from its ``connect()``, a function that finds the
verified DID log of one of its DIDs (:func:`register_log_source`), which the instance's verifier asks when a
did:webvh is not a twin's.

Issuing signs each credential in the caller's pass and inserts them with one ``bulk_create`` per chunk: a batch
of 10,000 produced things must fit in one request (bench/production.py). The issuer's status list is signed
when it is made and again whenever a bit changes (a revocation), never per credential.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from credentials.authenticity_models import AuthenticityCredential, IssuerStatusList
from credentials.services import signed_list_keep
from ssi import credentials as vc
from ssi import statuslist, webvh
from ssi.keys import SigningKey
from twins.history import history_append, lock_twin
from twins.models import Twin
from twins.moving import history_open

CREDENTIAL_TYPE = "AuthenticityCredential"
HISTORY_KIND = "credential"  # as credentials.services: issuing and revoking are part of the ownership record
_CHUNK = 500
REASON_MAX = 200

LogSource = Callable[[str], "webvh.LogState | None"]
_log_sources: list[LogSource] = []


class AuthenticityRefused(Exception):
    """The credential cannot be issued or revoked as asked; `message` says why, for the maker."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Issuer:
    """Who signs: a DID, the key its current DID document lists under assertionMethod (as `verification_method`),
    and the signing time (not before the DID log's latest version, or the verifier resolves an older one)."""

    did: str
    key: SigningKey
    verification_method: str
    at: datetime


@dataclass(frozen=True)
class Made:
    """What a maker states about one thing it made."""

    twin: Twin
    model: str
    serial: str
    produced_at: datetime
    manufacturer_name: str
    gtin: str = ""


# --- the verifier's seam --------------------------------------------------------------------------------------


def register_log_source(source: LogSource) -> None:
    """`source(scid)` returns the verified DID log of a DID hosted here that is not a twin's (an organisation's),
    or None. Registered by the app that owns such DIDs, from its connect(); idempotent."""
    if source not in _log_sources:
        _log_sources.append(source)


def log_from_sources(scid: str) -> webvh.LogState | None:
    for source in _log_sources:
        state = source(scid)
        if state is not None:
            return state
    return None


# --- status lists ----------------------------------------------------------------------------------------------


def status_list_url(status_list: IssuerStatusList) -> str:
    return settings.SITE_URL + reverse("credential-issuer-status-list", args=[status_list.public_id])


def status_url_prefix() -> str:
    """What every issuer status list URL of this instance starts with (the verifier reads those from here)."""
    return settings.SITE_URL + reverse("credential-issuer-status-list", args=["x"])[:-1]


def _list_sign(status_list: IssuerStatusList, issuer: Issuer) -> None:
    bits = statuslist.Bitstring.from_bytes(bytes(status_list.bits))
    unsigned = statuslist.list_credential(url=status_list_url(status_list), issuer=issuer.did, bits=bits)
    signed = vc.issue(unsigned, issuer.key, verification_method=issuer.verification_method, created=issuer.at)
    signed_list_keep(status_list, signed, issuer.at)


def _lists_with_room(issuer: Issuer, count: int) -> list[tuple[IssuerStatusList, int, int]]:
    """(list, first index, how many) covering `count` new bits: the issuer's latest list (locked) while it has
    room, then fresh lists, each signed (all clear) as it is made."""
    spans: list[tuple[IssuerStatusList, int, int]] = []
    current = IssuerStatusList.objects.select_for_update().filter(issuer_did=issuer.did).order_by("-id").first()
    while count > 0:
        if current is None or current.next_index >= current.length:
            current = IssuerStatusList.objects.create(issuer_did=issuer.did, bits=statuslist.Bitstring().to_bytes())
            _list_sign(current, issuer)
        take = min(count, current.length - current.next_index)
        spans.append((current, current.next_index, take))
        current.next_index += take
        current.save(update_fields=["next_index"])
        count -= take
        current = None if current.next_index >= current.length else current
    return spans


# --- issuing -----------------------------------------------------------------------------------------------------


def _subject(item: Made, issuer: Issuer) -> dict[str, str]:
    subject = {
        "id": item.twin.did,
        "manufacturer": issuer.did,
        "manufacturerName": item.manufacturer_name,
        "model": item.model,
        "serial": item.serial,
        "produced": vc.format_time(item.produced_at),
    }
    if item.gtin:
        subject["gtin"] = item.gtin
    return subject


@transaction.atomic
def authenticity_issue(*, issuer: Issuer, things: Sequence[Made]) -> list[AuthenticityCredential]:
    """Sign one authenticity credential per thing (each on its own bit of the issuer's status list) and store
    them with bulk INSERTs, in the caller's transaction. A thing without a DID gets none (nothing to name)."""
    things = [item for item in things if item.twin.did]
    if not things:
        return []
    now = timezone.now()
    rows: list[AuthenticityCredential] = []
    queue = iter(things)
    for status_list, first, count in _lists_with_room(issuer, len(things)):
        url = status_list_url(status_list)
        for index in range(first, first + count):
            item = next(queue)
            credential_id = uuid.uuid4()
            unsigned = vc.credential(
                issuer=issuer.did,
                id=credential_id.urn,
                types=[CREDENTIAL_TYPE],
                valid_from=now,
                subject=_subject(item, issuer),
                status=statuslist.status_entry(url=url, index=index),
            )
            signed = vc.issue(unsigned, issuer.key, verification_method=issuer.verification_method, created=issuer.at)
            rows.append(
                AuthenticityCredential(
                    id=credential_id,
                    twin=item.twin,
                    issuer_did=issuer.did,
                    model=item.model[:200],
                    serial=item.serial[:100],
                    status_list=status_list,
                    status_index=index,
                    document=json.dumps(signed, separators=(",", ":"), ensure_ascii=False),
                    issued_at=now,
                )
            )
    AuthenticityCredential.objects.bulk_create(rows, batch_size=_CHUNK)
    return rows


@transaction.atomic
def authenticity_revoke(*, issuer: Issuer, credential: AuthenticityCredential, reason: str) -> AuthenticityCredential:
    """Revoke the issuer's credential (its bit set, the list re-signed) and say so in the thing's history, in one
    transaction. Revoking a revoked one changes nothing; another issuer's credential is refused."""
    reason = (reason or "").strip()
    if not reason:
        raise AuthenticityRefused("Say why it is revoked (a counterfeit serial, a recall…): buyers are told.")
    if len(reason) > REASON_MAX:
        raise AuthenticityRefused(f"The reason is at most {REASON_MAX} characters.")
    credential = AuthenticityCredential.objects.select_for_update().get(pk=credential.pk)
    if credential.issuer_did != issuer.did:
        raise AuthenticityRefused("Only the manufacturer that issued this credential can revoke it.", status=403)
    if credential.revoked_at is not None:
        return credential
    status_list = IssuerStatusList.objects.select_for_update().get(pk=credential.status_list_id)
    bits = statuslist.Bitstring.from_bytes(bytes(status_list.bits))
    bits.set(credential.status_index)
    status_list.bits = bits.to_bytes()
    status_list.save(update_fields=["bits"])
    _list_sign(status_list, issuer)
    credential.revoked_at = timezone.now()
    credential.revoked_reason = reason
    credential.save(update_fields=["revoked_at", "revoked_reason"])
    # The revocation stands whatever the thing's state: the bit is on the maker's own list, which verifiers
    # everywhere read. The thing's history says so only where its history is open here (not deactivated, not
    # moved away or on its way: those refuse appends, and the refusal would undo the revocation).
    twin = lock_twin(credential.twin)
    if not history_open(twin):
        return credential
    history_append(
        twin=twin,
        kind=HISTORY_KIND,
        content={
            "action": "revoked",
            "type": CREDENTIAL_TYPE,
            "credential": credential.id.urn,
            "issuer": issuer.did,
            "statusListIndex": credential.status_index,
            "reason": reason,
        },
    )
    return credential


# --- reads -----------------------------------------------------------------------------------------------------


def standing_for(twin_did: str, issuers: Sequence[str]) -> AuthenticityCredential | None:
    """The standing authenticity credential of the thing `twin_did` from one of `issuers`, if any."""
    return (
        AuthenticityCredential.objects.standing()
        .filter(twin__did=twin_did, issuer_did__in=list(issuers))
        .order_by("-issued_at")
        .first()
    )


def wallet_list(*, viewer) -> list[AuthenticityCredential]:
    """The authenticity credentials of the things the viewer owns (a claimed thing's come with it), newest first."""
    if not getattr(viewer, "is_authenticated", False):
        return []
    return list(AuthenticityCredential.objects.filter(twin__owner=viewer).select_related("twin").order_by("-issued_at"))


def wallet_get(*, viewer, credential_id: uuid.UUID) -> AuthenticityCredential | None:
    if not getattr(viewer, "is_authenticated", False):
        return None
    return AuthenticityCredential.objects.filter(twin__owner=viewer, pk=credential_id).select_related("twin").first()
