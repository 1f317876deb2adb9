"""Aries RFC 0453 Issue Credential 2.0, issuer side: an owner hands a credential they hold (their ownership
credential, already signed by the twin) to a wallet connected to their own agent (ACA-Py, say).

``offer-credential`` (ld_proof format, RFC 0593) → their ``request-credential`` → our ``issue-credential`` → their
``ack``. Two forms of the credential, the owner's choice (:data:`PROOF_FORMATS`):

- ``eddsa-jcs-2022``: the credential as the twin signed it (VC DM 2.0, Data Integrity). The standard one; ACA-Py 1.7
  cannot take it (see tests/interop/test_acapy_issue_credential.py).
- ``Ed25519Signature2020``: the same claims, in VC DM 1.1 (what ACA-Py 1.7 can present), re-signed here by the
  same twin key with the Linked Data suite such wallets verify (ssi.ed25519_2020). Its issuer is that key as
  did:key: a wallet resolves did:key offline, while the twin's did:webvh needs HTTPS to the twin's host. Its
  ``credentialSubject.owns`` still names the twin's did:webvh (whose DID document lists the key), and its status
  entry is the twin's list, so a revocation shows there too.

A wallet that cannot take a credential ends the exchange with a problem report, whose text is kept on the exchange
for the owner to read. Messages are built and read by ssi.issue_credential; the handlers are registered in
didcomm.dispatch by didcomm.apps.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import transaction

from didcomm import outbox, selectors, services, timeline
from didcomm.handlers import Context
from didcomm.models import CredentialExchange
from owners.keys import owner_keys_ensure
from owners.models import Owner, OwnerKey
from ssi import credentials as vc
from ssi import ed25519_2020, messages, webvh
from ssi import issue_credential as ic
from ssi.didkey import did_key, key_url
from ssi.errors import SSIError
from ssi.keys import VerifyKey
from twins.identity import agent_key, log_state
from twins.models import Twin

# The most a credential handed over may weigh (ours are about 1.5 KB).
MAX_DOCUMENT_BYTES = 64 * 1024

EDDSA_JCS_2022 = "eddsa-jcs-2022"
ED25519_SIGNATURE_2020 = ed25519_2020.PROOF_TYPE
PROOF_FORMATS = {
    EDDSA_JCS_2022: "eddsa-jcs-2022 (Data Integrity): the credential as issued",
    ED25519_SIGNATURE_2020: "Ed25519Signature2020 (VC 1.1): for wallets that take no Data Integrity proof (ACA-Py 1.x)",
}


class CredentialSendRefused(Exception):
    """The credential cannot be offered; ``str(exc)`` says why, for the owner."""


def _twin_resolver(verification_method: str, *, purpose: str, at: datetime) -> VerifyKey:
    """Keys of this instance's twins (their verified DID logs), and did:key."""
    did = verification_method.partition("#")[0]
    if not did.startswith(webvh.PREFIX):
        return vc.resolve_did_key(verification_method, purpose=purpose, at=at)
    try:
        scid = webvh.parse_did(did).scid
    except SSIError as exc:
        raise vc.Unresolvable(f"{did} is not a did:webvh ({exc})") from None
    twin = Twin.objects.filter(did__startswith=f"{webvh.PREFIX}{scid}:").first()
    if twin is None:
        raise vc.Unresolvable(f"{did} is not a thing of this instance")
    return vc.log_resolver(log_state(twin))(verification_method, purpose=purpose, at=at)


def holder_did_of(owner: Owner) -> str:
    """The DID an owner's credentials name as their subject: did:key of their current key (as the credentials
    feature issues them)."""
    current = owner_keys_ensure(owner=owner)[OwnerKey.Role.CURRENT]
    return did_key(current.public_multibase) if current.public_multibase else ""


def credential_check(*, owner: Owner, document: str | dict[str, Any]) -> dict[str, Any]:
    """The credential an owner may hand on: a credential issued by a thing of this instance whose proof verifies,
    not expired, and about the owner (``credentialSubject.id`` is their DID). Revocation is not checked here (the
    status list belongs to the credentials feature); whoever receives it checks that.
    Raises CredentialSendRefused saying what is wrong."""
    text = document if isinstance(document, str) else json.dumps(document)
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise CredentialSendRefused(f"That credential is larger than {MAX_DOCUMENT_BYTES // 1024} KB.")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        raise CredentialSendRefused("That is not a credential: it is not JSON.") from None
    if not isinstance(parsed, dict):
        raise CredentialSendRefused("That is not a credential: it must be a JSON object.")
    result = vc.verify_credential(parsed, resolver=_twin_resolver)
    # CANNOT_CHECK comes only after the proof and the dates passed: its status list was not supplied here.
    if result.verdict not in (vc.Verdict.VALID, vc.Verdict.CANNOT_CHECK):
        raise CredentialSendRefused(f"That credential cannot be sent: {result.reason}")
    subject = parsed.get("credentialSubject")
    subject_id = subject.get("id") if isinstance(subject, dict) else None
    if not subject_id or subject_id != holder_did_of(owner):
        raise CredentialSendRefused("That credential is not about you: only your own credentials can be sent.")
    try:
        ic.detail(parsed)
    except ic.IssueCredentialError as exc:
        raise CredentialSendRefused(f"That credential cannot be sent: {exc}.") from None
    return parsed


def _issuing_twin(credential: dict[str, Any]) -> Twin:
    scid = webvh.parse_did(vc.issuer_id(credential)).scid  # checked by credential_check
    return Twin.objects.get(did__startswith=f"{webvh.PREFIX}{scid}:")


def ed25519_2020_form(*, owner: Owner, credential: dict[str, Any]) -> dict[str, Any]:
    """The Ed25519Signature2020 form of a checked credential: VC DM 1.1, its claims, status and dates unchanged,
    issued by the twin's current agent key as did:key, signed by that key now. Only for the thing's owner now: a
    new signature must never restate an ownership that a transfer ended (its key is the buyer's twin's by then)."""
    twin = _issuing_twin(credential)
    if twin.owner_id != owner.pk or twin.deactivated_at is not None:
        raise CredentialSendRefused(
            "That thing is no longer yours (or was deactivated): only the credential as issued can be sent, not a"
            " newly signed form of it."
        )
    key = agent_key(twin)
    unsigned = ed25519_2020.vc_1_1(credential)
    unsigned["issuer"] = did_key(key.verify_key)
    return ed25519_2020.sign(unsigned, key, verification_method=key_url(key.verify_key), created=vc.format_time())


@transaction.atomic
def credential_offer_send(
    *, owner: Owner, connection_id: int, document: str | dict[str, Any], proof_format: str = EDDSA_JCS_2022
) -> CredentialExchange:
    """Offer one of the owner's credentials, in ``proof_format`` (:data:`PROOF_FORMATS`), over a connection of
    their own agent; the rest of the exchange runs on the peer's answers. Raises CredentialSendRefused (a bad
    credential or format) or services.SendRefused (nothing can be sent over that connection now); an unknown
    connection or another's is a 404."""
    if proof_format not in PROOF_FORMATS:
        raise CredentialSendRefused(f"Choose one of the forms: {', '.join(PROOF_FORMATS)}.")
    credential = credential_check(owner=owner, document=document)
    agent = services.agent_for_owner(owner)
    connection = selectors.connection_get(agent=agent, connection_id=connection_id, for_update=True)
    refusal = selectors.send_refusal(connection)
    if refusal:
        raise services.SendRefused(refusal)
    if proof_format == ED25519_SIGNATURE_2020:
        credential = ed25519_2020_form(owner=owner, credential=credential)
    body = ic.offer(credential, comment="Ownership credential from Thingstead")
    outbound = outbox.outbound_enqueue(connection=connection, body=body)
    timeline.record_outbound(outbound)
    return CredentialExchange.objects.create(
        connection=connection,
        thread_id=body["@id"],
        document=json.dumps(credential, separators=(",", ":"), ensure_ascii=False),
    )


def _exchange(ctx: Context) -> CredentialExchange | None:
    thid, _ = messages.thread_of(ctx.body)
    if ctx.connection is None or not thid:
        return None
    return CredentialExchange.objects.select_for_update().filter(connection=ctx.connection, thread_id=thid).first()


def _abandon(exchange: CredentialExchange, reason: str) -> dict[str, Any]:
    exchange.state = CredentialExchange.State.ABANDONED
    exchange.error = reason[:500]
    exchange.save(update_fields=["state", "error", "updated_at"])
    return messages.problem_report(
        thid=exchange.thread_id, code=ic.ABANDONED, explanation=reason[:500], key=ic.PROBLEM_REPORT
    )


def _unknown_thread(ctx: Context) -> dict[str, Any]:
    return messages.problem_report(
        thid=ctx.message.message_id,
        code=ic.ABANDONED,
        explanation="no credential was offered on this thread: this agent issues only what it offered",
        key=ic.PROBLEM_REPORT,
    )


def request_receive(ctx: Context) -> dict[str, Any] | None:
    """Their ``request-credential``: issue the offered credential if they ask for exactly it (RFC 0593)."""
    exchange = _exchange(ctx)
    if exchange is None:
        return _unknown_thread(ctx)
    if exchange.state != CredentialExchange.State.OFFER_SENT:
        return _abandon(exchange, f"a request arrived in state {exchange.state}")
    credential = json.loads(exchange.document)
    try:
        ic.check_request(ic.detail(credential), ic.request_detail(ctx.body))
    except ic.IssueCredentialError as exc:
        return _abandon(exchange, str(exc))
    exchange.state = CredentialExchange.State.CREDENTIAL_ISSUED
    exchange.save(update_fields=["state", "updated_at"])
    return ic.issue(thid=exchange.thread_id, credential=credential)


def ack_receive(ctx: Context) -> None:
    """Their ``ack`` (RFC 0015): they stored the credential."""
    exchange = _exchange(ctx)
    if exchange is not None and exchange.state == CredentialExchange.State.CREDENTIAL_ISSUED:
        exchange.state = CredentialExchange.State.DONE
        exchange.save(update_fields=["state", "updated_at"])
    return None


def problem_report_receive(ctx: Context) -> None:
    """Their ``problem-report``: the exchange ends; their text is kept for the owner. Never answered (a report
    answering a report could loop)."""
    exchange = _exchange(ctx)
    if exchange is not None and exchange.state != CredentialExchange.State.ABANDONED:
        exchange.state = CredentialExchange.State.ABANDONED
        exchange.error = (ic.problem_description(ctx.body) or "the holder gave up without a reason")[:500]
        exchange.save(update_fields=["state", "error", "updated_at"])
    return None
