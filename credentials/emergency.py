"""Emergency access: a guardian opens chosen reading kinds (location, glucose…) of chosen twins to a rescuer for a
few hours, through a secret link, and closes it again.

Granting makes one EmergencyAccessCredential per twin, signed by that twin's DID on its status list (the one way
twins issue credentials: credentials.services.credential_sign), and a link `/emergency/<token>` whose token is
shown once; only its SHA-256 is stored. Whoever holds the link sees a read-only live view of exactly those kinds
(credentials.consumers.EmergencyConsumer) until the expiry or a revocation, whichever comes first: then the page is
a 404 and an open live connection is closed. Every opening (page and live connection) is logged for the
guardian, who sees the log and revokes in one tap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from credentials.models import AccessCredential, EmergencyAccess, EmergencyGrant, VerifierSession
from credentials.services import (
    CredentialRefused,
    credential_sign,
    status_bit_set,
    status_list_for_update,
    status_list_sign,
    verifier_session_spend,
)
from credentials.verification import HEADLINES, InstanceResolver
from owners.models import Owner
from ssi import credentials as vc
from twins.history import history_append, lock_twin
from twins.models import HistoryEntry, Reading, Twin
from twins.moving import history_open, revoked_while_leaving

log = logging.getLogger(__name__)

CREDENTIAL_TYPE = "EmergencyAccessCredential"
MAX_HOURS = 72
MAX_TWINS = 20
MAX_KINDS = 10
KIND_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")
RECENT_PER_KIND = 10
LOG_SHOWN = 50


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ended_group(grant_id: int) -> str:
    """The channel-layer group of a grant's open live connections, told when it is revoked."""
    return f"emergency-{grant_id}"


def clean_kinds(kinds: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(kind.strip() for kind in kinds if kind.strip()))
    if not cleaned:
        raise CredentialRefused("Name at least one kind of reading to open (for example location).")
    if len(cleaned) > MAX_KINDS:
        raise CredentialRefused(f"At most {MAX_KINDS} kinds of reading.")
    bad = [kind for kind in cleaned if not KIND_RE.match(kind)]
    if bad:
        raise CredentialRefused(f"Not a kind of reading: {bad[0][:40]!r} (letters, digits, - _ . : only).")
    return cleaned


# --- writes --------------------------------------------------------------------------------------------------


@transaction.atomic
def emergency_grant_create(
    *, guardian: Owner, recipient: str, twins: list[Twin], kinds: list[str], hours: int
) -> tuple[EmergencyGrant, str]:
    """Open `kinds` of `twins` (the guardian's own) to whoever holds the returned token, for `hours`: (grant,
    token). The token is not kept: show it once. Raises CredentialRefused with a reason the guardian can act on."""
    recipient = (recipient or "").strip()
    if not recipient or len(recipient) > 120:
        raise CredentialRefused("Say who it is for (at most 120 characters), for example Mountain rescue.")
    if not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
        raise CredentialRefused(f"Open it for 1 to {MAX_HOURS} hours.")
    kinds = clean_kinds(kinds)
    twins = list({twin.pk: twin for twin in twins}.values())
    if not twins or len(twins) > MAX_TWINS:
        raise CredentialRefused(f"Choose 1 to {MAX_TWINS} of your things.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    grant = EmergencyGrant.objects.create(
        guardian=guardian,
        recipient=recipient,
        kinds=kinds,
        token_hash=token_hash(token),
        valid_until=now + timedelta(hours=hours),
    )
    for twin in sorted(twins, key=lambda t: t.pk):  # one lock order, so two grants of the same things never deadlock
        _issue(lock_twin(twin), guardian, grant)
    return grant, token


def _issue(twin: Twin, guardian: Owner, grant: EmergencyGrant) -> AccessCredential:
    if twin.owner_id != guardian.pk:
        raise CredentialRefused("You can open only things you own.")
    if not twin.did or twin.deactivated_at is not None:
        raise CredentialRefused(f"{twin.name} has no identity to sign with (or is deactivated).")
    status_list = status_list_for_update(twin)
    credential = AccessCredential(
        twin=twin,
        role=AccessCredential.Role.EMERGENCY,
        issued_by=guardian,
        grant=grant,
        capabilities=grant.kinds,
        status_list=status_list,
        expires_at=grant.valid_until,
    )
    credential.document, credential.status_index, credential.issued_at = credential_sign(
        twin=twin,
        status_list=status_list,
        credential_id=credential.id,
        types=[CREDENTIAL_TYPE],
        # The subject is whoever holds the grant's link (a rescue service has no DID here): named by the grant.
        subject={
            "id": f"{credential.id.urn}#bearer",
            "mayRead": twin.did,
            "kinds": grant.kinds,
            "recipient": grant.recipient,
        },
        valid_until=grant.valid_until,
    )
    credential.save(force_insert=True)
    history_append(
        twin=twin,
        kind=HistoryEntry.Kind.CREDENTIAL,
        content={
            "action": "issued",
            "type": CREDENTIAL_TYPE,
            "credential": credential.id.urn,
            "recipient": grant.recipient,
            "kinds": grant.kinds,
            "validUntil": grant.valid_until.isoformat(),
            "statusListIndex": credential.status_index,
        },
        locked=True,
    )
    status_list_sign(status_list=status_list, twin=twin)
    return credential


@transaction.atomic
def emergency_grant_revoke(*, grant: EmergencyGrant) -> EmergencyGrant:
    """Close the grant now: its credentials revoked (each twin's status list re-signed), the page a 404 on its
    next request, open live connections told to close once this commits. Idempotent."""
    grant = EmergencyGrant.objects.select_for_update().get(pk=grant.pk)
    if grant.revoked_at is not None:
        return grant
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["revoked_at"])
    standing = AccessCredential.objects.filter(grant=grant, revoked_at__isnull=True).select_related("twin")
    for credential in sorted(standing, key=lambda c: c.twin_id):
        twin = lock_twin(credential.twin)
        if twin.deactivated_at is not None:
            continue
        status_list = status_list_for_update(twin)
        status_bit_set(status_list=status_list, index=credential.status_index)
        credential.revoked_at = grant.revoked_at
        credential.revoked_reason = "owner"
        credential.save(update_fields=["revoked_at", "revoked_reason"])
        status_list_sign(status_list=status_list, twin=twin)
        if not history_open(twin):  # moved away or on its way: the revocation stands, the history is closed here
            revoked_while_leaving(twin, "the emergency access")
            continue
        history_append(
            twin=twin,
            kind=HistoryEntry.Kind.CREDENTIAL,
            content={
                "action": "revoked",
                "type": CREDENTIAL_TYPE,
                "credential": credential.id.urn,
                "reason": "owner",
                "statusListIndex": credential.status_index,
            },
            locked=True,
        )
    grant_id = grant.pk
    transaction.on_commit(lambda: _tell_ended(grant_id))
    return grant


def _tell_ended(grant_id: int) -> None:
    """After commit: open live connections of the grant close themselves (they would also stop at their next
    event, which re-checks the grant; this closes an idle one at once)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(ended_group(grant_id), {"type": "emergency.ended"})
    except Exception:  # the revocation has committed; the connections' own checks end them
        log.exception("could not tell emergency grant %s's live connections", grant_id)


def access_record(*, grant: EmergencyGrant, channel: str, client: str = "", user_agent: str = "") -> EmergencyAccess:
    """Log one opening of the grant's link for the guardian (a write by design on the page's GET, as a tag scan
    is: every access is recorded)."""
    return EmergencyAccess.objects.create(
        grant=grant, channel=channel, client=client[:64], user_agent=(user_agent or "")[:200]
    )


# --- reads ---------------------------------------------------------------------------------------------------


def grant_for_token(token: str, *, now: datetime | None = None) -> EmergencyGrant | None:
    """The grant of a link (or of a pass a presentation earned), if it is open now (not revoked, not expired);
    else None."""
    if not token or len(token) > 200:
        return None
    if ":" in token:  # a pass (signing output); a link's token is base64url, without colons
        grant_id = _pass_grant_id(token)
        grant = EmergencyGrant.objects.filter(pk=grant_id).first() if grant_id is not None else None
    else:
        grant = EmergencyGrant.objects.filter(token_hash=token_hash(token)).first()
    if grant is None or not grant.active(now or timezone.now()):
        return None
    return grant


def grant_is_open(grant_id: int) -> bool:
    """Checked again by a live connection before each event it forwards: no cache."""
    now = timezone.now()
    return EmergencyGrant.objects.filter(pk=grant_id, revoked_at__isnull=True, valid_until__gt=now).exists()


def granted_twins(grant: EmergencyGrant) -> list[Twin]:
    """The twins a grant opens now: its credentials not revoked (a transfer revokes them), on twins the guardian
    still owns, in the order the guardian chose them."""
    credentials = (
        AccessCredential.objects.filter(grant=grant, revoked_at__isnull=True, twin__owner_id=grant.guardian_id)
        .select_related("twin")
        .order_by("issued_at", "twin_id")
    )
    return [credential.twin for credential in credentials]


@dataclass(frozen=True)
class KindView:
    kind: str
    readings: list[Reading]


@dataclass(frozen=True)
class TwinView:
    number: int  # the twin's position in the grant: the live view's id for it (slugs stay private)
    twin: Twin
    kinds: list[KindView]


def emergency_view(*, token: str) -> tuple[EmergencyGrant, list[TwinView]]:
    """What the rescuer's page shows: for each twin of an open grant, the latest readings of exactly the granted
    kinds. A closed, expired or unknown link is a 404."""
    grant = grant_for_token(token)
    if grant is None:
        raise Http404("This emergency link has ended or does not exist.")
    views = []
    for number, twin in enumerate(granted_twins(grant), start=1):
        kinds = [
            KindView(kind=kind, readings=list(Reading.objects.filter(twin=twin, kind=kind)[:RECENT_PER_KIND]))
            for kind in grant.kinds
        ]
        views.append(TwinView(number=number, twin=twin, kinds=kinds))
    return grant, views


def live_targets(grant: EmergencyGrant) -> dict[int, int]:
    """{twin id: its number in the grant} for the live connection's filter."""
    return {twin.pk: number for number, twin in enumerate(granted_twins(grant), start=1)}


def grant_list(*, viewer: Any) -> QuerySet[EmergencyGrant]:
    if not getattr(viewer, "is_authenticated", False):
        return EmergencyGrant.objects.none()
    return EmergencyGrant.objects.filter(guardian=viewer).prefetch_related("credentials__twin").order_by("-created_at")


def grant_get(*, viewer: Any, grant_id: str) -> EmergencyGrant:
    grant = grant_list(viewer=viewer).filter(public_id=grant_id).first()
    if grant is None:
        raise Http404("No such emergency access.")
    return grant


def credential_get(*, viewer: Any, credential_id: Any) -> AccessCredential:
    """One of the guardian's emergency credentials (anyone else's is a 404)."""
    credential = (
        AccessCredential.objects.filter(
            pk=credential_id, role=AccessCredential.Role.EMERGENCY, issued_by_id=getattr(viewer, "pk", None)
        ).first()
        if getattr(viewer, "is_authenticated", False)
        else None
    )
    if credential is None:
        raise Http404("No such credential.")
    return credential


def access_log(*, grant: EmergencyGrant) -> list[EmergencyAccess]:
    return list(grant.accesses.all()[:LOG_SHOWN])


def reading_kinds_of(*, viewer: Any) -> list[str]:
    """Kinds of reading to suggest on the form: the guardian's things' own kinds, and location (movements). Not
    a scan of their readings, which may be millions."""
    own = Twin.objects.filter(owner=viewer, archived_at__isnull=True).values_list("reading_kind", flat=True)
    return sorted(set(own.distinct()[:30]) | {"location"})


# --- presenting the credential instead of opening the link ----------------------------------------------------

PASS_SALT = "credentials.emergency.presented"


class PresentationRefused(Exception):
    """A presentation that opens nothing: `status` (a 4xx) and a message a rescuer can act on."""

    def __init__(self, message: str, *, status: int = 403, verdict: str = "") -> None:
        super().__init__(message)
        self.message, self.status, self.verdict = message, status, verdict


# Verdicts that mean the presentation itself is wrong (show it again, made for this check) rather than the
# access having ended or never been granted.
_BAD_REQUEST = {vc.Verdict.TAMPERED, vc.Verdict.WRONG_CHALLENGE, vc.Verdict.WRONG_DOMAIN}
_GONE = {vc.Verdict.EXPIRED, vc.Verdict.REVOKED}


def grant_pass(grant: EmergencyGrant) -> str:
    """What a verified presentation earns: a signed, opaque stand-in for the link's token (which is not kept),
    naming the grant. It opens the same view only while the grant is open: every use asks the database."""
    return signing.dumps({"grant": grant.pk}, salt=PASS_SALT)


def _pass_grant_id(value: str) -> int | None:
    try:
        data = signing.loads(value, salt=PASS_SALT)
    except signing.BadSignature:
        return None
    grant_id = data.get("grant") if isinstance(data, dict) else None
    return grant_id if isinstance(grant_id, int) else None


def _presented(document: dict[str, Any]) -> list[Any]:
    """The presentation's credentials, whatever their shape (an object, a list, anything else: none)."""
    creds = document.get("verifiableCredential")
    return [creds] if isinstance(creds, dict) else creds if isinstance(creds, list) else []


def _presented_ids(document: dict[str, Any]) -> list[str]:
    return [c["id"] for c in _presented(document) if isinstance(c, dict) and isinstance(c.get("id"), str)]


def _is_presentation(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    types = document.get("type")
    types = [types] if isinstance(types, str) else types if isinstance(types, list) else []
    return vc.PRESENTATION_TYPE in types


def _credential_pk(urn: str) -> str | None:
    prefix = "urn:uuid:"
    return urn[len(prefix) :] if urn.startswith(prefix) and len(urn) == len(prefix) + 36 else None


def emergency_present(
    *,
    document: Any,
    session: VerifierSession,
    client: str = "",
    user_agent: str = "",
    now: datetime | None = None,
) -> tuple[EmergencyGrant, str]:
    """Open an emergency grant by a verifiable presentation of its credentials, made for `session`'s challenge
    and domain (as the verifier page checks presentations), instead of by its link: (grant, pass for the view).

    Every presented credential must be an emergency access credential of this site of one grant; the
    presentation, each credential's proof, its validity period and its status-list bit must hold (ssi.credentials;
    a bearer credential: no holder binding, as the link has none); the grant must be open now. The check spends
    the session (a replay is refused) and is logged for the guardian. Raises PresentationRefused."""
    if not _is_presentation(document):
        raise PresentationRefused(
            "That is not a verifiable presentation: make one of the emergency credential for this check's "
            "challenge and domain.",
            status=400,
        )
    if session.used_at is not None:
        raise PresentationRefused("This check is finished: start a new one.", status=400)
    pks = [pk for pk in map(_credential_pk, _presented_ids(document)) if pk is not None]
    credentials = list(
        AccessCredential.objects.filter(pk__in=pks[:MAX_TWINS], role=AccessCredential.Role.EMERGENCY).select_related(
            "grant", "status_list"
        )
    )
    grants = {credential.grant_id for credential in credentials}
    if not credentials or len(credentials) != len(_presented(document)) or len(grants) != 1:
        raise PresentationRefused(
            "This presentation must carry the emergency access credentials of one grant from this site, and "
            "nothing else.",
            status=403,
        )
    lists = vc.StatusLists()
    for status_list in {credential.status_list_id: credential.status_list for credential in credentials}.values():
        if status_list.document:
            lists.add(json.loads(status_list.document))
    result = vc.verify_presentation(
        document,
        challenge=session.challenge,
        domain=session.domain,
        resolver=InstanceResolver(),
        status_lists=lists,
        holder_is_subject=False,  # bearer credentials: whoever holds them, as whoever holds the link
        now=now,
    )
    if not result.ok:
        verdict = vc.Verdict(result.verdict)
        status = 400 if verdict in _BAD_REQUEST else 410 if verdict in _GONE else 403
        raise PresentationRefused(f"{HEADLINES[verdict]}: {result.reason}", status=status, verdict=str(verdict))
    grant = credentials[0].grant
    if not grant.active(now or timezone.now()):
        raise PresentationRefused(
            "This emergency access has ended: the guardian closed it or its time ran out.", status=410
        )
    if not verifier_session_spend(session=session):
        raise PresentationRefused("This check is finished: start a new one.", status=400)
    access_record(grant=grant, channel=EmergencyAccess.Channel.PRESENT, client=client, user_agent=user_agent)
    return grant, grant_pass(grant)
