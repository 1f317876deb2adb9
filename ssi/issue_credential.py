"""Aries RFC 0453 Issue Credential 2.0, the issuer's messages, with the RFC 0593 JSON-LD attachment formats.

Pure message building and reading: no transport, no storage (didcomm/issue_credential.py runs the exchange).

RFC 0453 flow, issuer side: ``offer-credential`` → (holder) ``request-credential`` → ``issue-credential`` →
(holder) ``ack``; either side may end it with the family's ``problem-report``. Each message after the offer carries
``~thread.thid`` = the offer's ``@id``.

RFC 0593 (``aries/ld-proof-vc-detail@v1.0``): the offer and the request carry ``{"credential": <the credential
without proof>, "options": {"proofType": ...}}``; the issue carries the signed credential as
``aries/ld-proof-vc@v1.0``. A holder may fill in ``credentialSubject.id`` in its request, nothing else; the issued
credential (less its proof) must equal the request's. Attachments are RFC 0017 ``data.base64``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from ssi.errors import SSIError
from ssi.messages import new_message, thread

OFFER = "issue-credential/2.0/offer-credential"
REQUEST = "issue-credential/2.0/request-credential"
ISSUE = "issue-credential/2.0/issue-credential"
ACK = "issue-credential/2.0/ack"
PROBLEM_REPORT = "issue-credential/2.0/problem-report"

# RFC 0593 attachment formats (RFC 0453 "formats" identifiers).
LD_PROOF_DETAIL = "aries/ld-proof-vc-detail@v1.0"
LD_PROOF_VC = "aries/ld-proof-vc@v1.0"
# The attachment id we give the one format we offer.
ATTACH_ID = "ld_proof"

# RFC 0453 problem report code for an exchange given up (its "issuance-abandoned").
ABANDONED = "issuance-abandoned"


class IssueCredentialError(SSIError):
    """A message of the exchange is malformed or does not fit it; ``str(exc)`` says why (for a problem report)."""


def _attach(data: Mapping[str, Any]) -> dict[str, Any]:
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return {"@id": ATTACH_ID, "mime-type": "application/json", "data": {"base64": base64.b64encode(raw).decode()}}


def _formats(fmt: str) -> list[dict[str, str]]:
    return [{"attach_id": ATTACH_ID, "format": fmt}]


def unsecured(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The credential without its ``proof``: what an RFC 0593 detail carries."""
    return {key: value for key, value in credential.items() if key != "proof"}


def proof_of(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    proof = credential.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, Mapping):
        raise IssueCredentialError("the credential must carry exactly one proof")
    return proof


def detail(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The RFC 0593 detail of a signed credential: the credential less its proof, its proof's type as the
    ``proofType`` the holder is to expect (the issued proof must be of that type), and its status's type."""
    proof = proof_of(credential)
    proof_type = proof.get("type")
    if not isinstance(proof_type, str) or not proof_type:
        raise IssueCredentialError("the credential's proof has no type")
    options: dict[str, Any] = {"proofType": proof_type}
    status = credential.get("credentialStatus")
    if isinstance(status, Mapping) and isinstance(status.get("type"), str):
        # RFC 0593 options.credentialStatus: the kind of status the issued credential carries (a holder such as
        # ACA-Py refuses a credential whose status its request did not announce).
        options["credentialStatus"] = {"type": status["type"]}
    return {"credential": unsecured(credential), "options": options}


def offer(credential: Mapping[str, Any], *, comment: str = "") -> dict[str, Any]:
    """An ``offer-credential`` of an already signed credential, in the ``ld_proof`` format."""
    body: dict[str, Any] = {}
    if comment:
        body["comment"] = comment
    return new_message(
        OFFER,
        **body,
        formats=_formats(LD_PROOF_DETAIL),
        **{"offers~attach": [_attach(detail(credential))]},
    )


def issue(*, thid: str, credential: Mapping[str, Any]) -> dict[str, Any]:
    """The ``issue-credential`` on thread ``thid``, asking for the holder's ack (RFC 0317 ``~please_ack``)."""
    return new_message(
        ISSUE,
        formats=_formats(LD_PROOF_VC),
        **{
            "credentials~attach": [_attach(credential)],
            "~please_ack": {"on": ["OUTCOME"]},
            "~thread": thread(thid),
        },
    )


def _attachment_data(body: Mapping[str, Any], attach_key: str, fmt: str) -> dict[str, Any]:
    """The JSON of the attachment ``formats`` names ``fmt``; IssueCredentialError if there is none."""
    formats = body.get("formats")
    attachments = body.get(attach_key)
    if not isinstance(formats, list) or not isinstance(attachments, list):
        raise IssueCredentialError(f"the message needs formats and {attach_key}")
    ids = [f.get("attach_id") for f in formats if isinstance(f, Mapping) and f.get("format") == fmt]
    if not ids:
        names = sorted({str(f.get("format")) for f in formats if isinstance(f, Mapping)})
        raise IssueCredentialError(f"no {fmt} attachment (formats: {', '.join(names) or 'none'})")
    for attachment in attachments:
        if isinstance(attachment, Mapping) and attachment.get("@id") in ids:
            data = attachment.get("data")
            if isinstance(data, Mapping) and "json" in data and isinstance(data["json"], dict):
                return data["json"]
            encoded = data.get("base64") if isinstance(data, Mapping) else None
            if not isinstance(encoded, str):
                raise IssueCredentialError("the attachment has neither data.json nor data.base64")
            try:
                padded = encoded + "=" * (-len(encoded) % 4)
                decoded = json.loads(base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_")))
            except (binascii.Error, ValueError, RecursionError):
                raise IssueCredentialError("the attachment is not base64 of JSON") from None
            if not isinstance(decoded, dict):
                raise IssueCredentialError("the attachment must be a JSON object")
            return decoded
    raise IssueCredentialError(f"formats names attachment {ids[0]!r}, which is missing")


def offer_detail(body: Mapping[str, Any]) -> dict[str, Any]:
    return _attachment_data(body, "offers~attach", LD_PROOF_DETAIL)


def request_detail(body: Mapping[str, Any]) -> dict[str, Any]:
    return _attachment_data(body, "requests~attach", LD_PROOF_DETAIL)


def issued_credential(body: Mapping[str, Any]) -> dict[str, Any]:
    return _attachment_data(body, "credentials~attach", LD_PROOF_VC)


def _subject_id(credential: Any) -> Any:
    subject = credential.get("credentialSubject") if isinstance(credential, Mapping) else None
    if isinstance(subject, list):
        subject = subject[0] if subject else None
    return subject.get("id") if isinstance(subject, Mapping) else None


def check_request(offered: Mapping[str, Any], requested: Mapping[str, Any]) -> None:
    """RFC 0593: a request answering our offer asks for exactly the offered credential and options; it may only
    name a ``credentialSubject.id`` where the offer had none. Raises IssueCredentialError saying what differs."""
    if not isinstance(requested.get("credential"), Mapping) or not isinstance(requested.get("options"), Mapping):
        raise IssueCredentialError("the request's detail needs a credential and options")
    offered_id = _subject_id(offered["credential"])
    requested_id = _subject_id(requested["credential"])
    if offered_id is not None and requested_id != offered_id:
        raise IssueCredentialError(
            f"the request names credentialSubject.id {requested_id!r}; the offered credential is about {offered_id}"
        )
    if requested["options"] != offered["options"]:
        raise IssueCredentialError("the request's options differ from the offer's")
    if requested["credential"] != offered["credential"]:
        changed = sorted(
            key
            for key in set(offered["credential"]) | set(requested["credential"])
            if offered["credential"].get(key) != requested["credential"].get(key)
        )
        raise IssueCredentialError(f"the requested credential differs from the offered one in: {', '.join(changed)}")


def problem_description(body: Mapping[str, Any]) -> str:
    """A received problem report's text: its ``description`` (``en`` and ``code``), as the peer wrote it."""
    description = body.get("description")
    if isinstance(description, Mapping):
        text = description.get("en")
        code = description.get("code")
        parts = [str(part) for part in (code, text) if part]
        return ": ".join(parts)[:500]
    if isinstance(description, str):
        return description[:500]
    return ""
