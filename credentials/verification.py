"""Verifying a credential or a presentation with what this instance knows, whoever asks (the verify page, the
API): no transport here, and no network fetch anywhere.

- did:key resolves itself; a did:webvh of a twin of this instance resolves from its DID log in the database, one
  of another kind hosted here (an organisation's) from the log sources registered with credentials.authenticity;
  any other did:webvh is "cannot check" (its log is elsewhere, and this verifier does not fetch it).
- Status lists of this instance come from the database; a list hosted elsewhere is "cannot check".
- A policy (a shop's VerifierPolicy) decides which issuers and claims are acceptable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from credentials import authenticity, services
from credentials.models import IssuerStatusList, StatusList, VerifierPolicy
from ssi import credentials as vc
from ssi import webvh
from ssi.errors import SSIError
from ssi.keys import VerifyKey
from twins.identity import log_state
from twins.models import Twin

HEADLINES = {
    vc.Verdict.VALID: "Valid",
    vc.Verdict.EXPIRED: "Expired",
    vc.Verdict.NOT_YET_VALID: "Not valid yet",
    vc.Verdict.REVOKED: "Revoked",
    vc.Verdict.TAMPERED: "Altered or forged",
    vc.Verdict.UNTRUSTED_ISSUER: "Not accepted here",
    vc.Verdict.WRONG_CHALLENGE: "Made for another request",
    vc.Verdict.WRONG_DOMAIN: "Made for another verifier",
    vc.Verdict.WRONG_HOLDER: "Shown by someone else",
    vc.Verdict.CANNOT_CHECK: "Cannot check",
}
VERDICTS = tuple(str(v) for v in HEADLINES)
SUBJECT_FIELDS = ("id", "owns", "name", "model", "serial", "since", "manufacturerName", "gtin", "produced")


class NotACredential(ValueError):
    """The input is not a verifiable credential or presentation at all (a 400, not a verdict)."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # "credential" | "presentation"
    verdict: str
    headline: str
    reason: str
    issuer: str | None = None
    subject: dict[str, str] = field(default_factory=dict)  # claims of a credential whose signature held
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == vc.Verdict.VALID


class InstanceResolver:
    """An ssi.credentials Resolver over this instance's twins' DID logs (read and verified once per call)."""

    def __init__(self) -> None:
        self._logs: dict[str, webvh.LogState | None] = {}

    def _log(self, scid: str) -> webvh.LogState | None:
        if scid not in self._logs:
            twin = Twin.objects.filter(did__startswith=f"{webvh.PREFIX}{scid}:").first()
            self._logs[scid] = log_state(twin) if twin is not None else authenticity.log_from_sources(scid)
        return self._logs[scid]

    def __call__(self, verification_method: str, *, purpose: str, at: datetime) -> VerifyKey:
        did = verification_method.partition("#")[0]
        if did.startswith(webvh.PREFIX):
            try:
                scid = webvh.parse_did(did).scid
            except SSIError as exc:
                raise vc.Unresolvable(f"{did} is not a did:webvh this verifier can read ({exc})") from None
            state = self._log(scid)
            if state is None:
                raise vc.Unresolvable(f"{did} is not hosted here, and this verifier does not fetch DID logs")
            return vc.log_resolver(state)(verification_method, purpose=purpose, at=at)
        return vc.resolve_did_key(verification_method, purpose=purpose, at=at)


def _status_urls(document: Mapping[str, Any]) -> set[str]:
    """statusListCredential URLs named by a credential or by a presentation's credentials (any shape)."""
    creds: Any = document.get("verifiableCredential", [document])
    creds = [creds] if isinstance(creds, Mapping) else creds if isinstance(creds, list) else []
    urls = set()
    for cred in creds:
        status = cred.get("credentialStatus") if isinstance(cred, Mapping) else None
        for entry in status if isinstance(status, list) else [status]:
            url = entry.get("statusListCredential") if isinstance(entry, Mapping) else None
            if isinstance(url, str):
                urls.add(url)
    return urls


def _local_lists(document: Mapping[str, Any]) -> vc.StatusLists:
    prefix = services.status_list_url_prefix()
    ids = [url.removeprefix(prefix) for url in _status_urls(document) if url.startswith(prefix)]
    lists = vc.StatusLists()
    signed = StatusList.objects.filter(public_id__in=ids[:20]).exclude(document="")
    for text in signed.values_list("document", flat=True):
        lists.add(json.loads(text))
    prefix = authenticity.status_url_prefix()
    ids = [url.removeprefix(prefix) for url in _status_urls(document) if url.startswith(prefix)]
    issued = IssuerStatusList.objects.filter(public_id__in=ids[:20]).exclude(document="")
    for text in issued.values_list("document", flat=True):
        lists.add(json.loads(text))
    return lists


class TwinModelPolicy:
    """A VerifierPolicy as an ssi.credentials Policy: an OwnershipCredential issued by a twin (a did:webvh, which
    only resolves for twins of this instance) about itself, whose model is on the shop's list.

    With manufacturers named, the thing must also hold a standing authenticity credential of one of them (kept
    here, its revocation a bit this instance sets), and the model checked is the one the maker put in it: an
    owner can rename their thing, not what its maker signed."""

    def __init__(self, policy: VerifierPolicy) -> None:
        self._manufacturers = [m for m in policy.manufacturers or [] if isinstance(m, str)]
        self._models = policy.accepted_models
        subject = {} if self._manufacturers else {"model": policy.accepted_models}
        self._claims = vc.IssuerPolicy(types=("OwnershipCredential",), subject=subject)

    def __call__(self, credential: Mapping[str, Any]) -> str | None:
        issuer = vc.issuer_id(credential)
        if not issuer.startswith(webvh.PREFIX):
            return "It was not issued by a thing's own DID."
        subjects = credential.get("credentialSubject")
        for subject in subjects if isinstance(subjects, list) else [subjects]:
            if not isinstance(subject, Mapping) or subject.get("owns") != issuer:
                return "The thing that issued it vouches for another thing."
        refusal = self._claims(credential)
        if refusal or not self._manufacturers:
            return refusal
        made = authenticity.standing_for(issuer, self._manufacturers)
        if made is None:
            return "No manufacturer you accept vouches for this thing (or its maker revoked that statement)."
        if self._models and made.model not in self._models:
            return f"Its model ({made.model!r}, as its maker names it) is not on your accepted list."
        return None


def _subject(document: Any) -> dict[str, str]:
    subject = document.get("credentialSubject") if isinstance(document, Mapping) else None
    if isinstance(subject, list):
        subject = subject[0] if subject else None
    if not isinstance(subject, Mapping):
        return {}
    return {name: subject[name][:300] for name in SUBJECT_FIELDS if isinstance(subject.get(name), str)}


def _types(document: Mapping[str, Any]) -> list[str]:
    t = document.get("type")
    return [t] if isinstance(t, str) else [x for x in t if isinstance(x, str)] if isinstance(t, list) else []


def _outcome(kind: str, result: vc.Verification, subject_of: Any) -> Outcome:
    # A forged document's claims are nobody's; a genuine one shown by someone else is not theirs to show.
    trusted = result.verdict not in (vc.Verdict.TAMPERED, vc.Verdict.CANNOT_CHECK, vc.Verdict.WRONG_HOLDER)
    return Outcome(
        kind=kind,
        verdict=str(result.verdict),
        headline=HEADLINES[result.verdict],
        reason=result.reason,
        issuer=result.issuer,
        subject=_subject(subject_of) if trusted else {},
        detail=result.detail,
    )


def verify_document(
    document: Any,
    *,
    challenge: str | None = None,
    domain: str | None = None,
    policy: VerifierPolicy | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Verify a parsed credential or presentation. Raises NotACredential for anything that is neither, or for a
    presentation without the challenge and domain to check it against."""
    if not isinstance(document, Mapping):
        raise NotACredential("Expected a JSON object: a verifiable credential or a verifiable presentation.")
    types = _types(document)
    resolver = InstanceResolver()
    rule = TwinModelPolicy(policy) if policy is not None else None
    lists = _local_lists(document)
    if vc.PRESENTATION_TYPE in types:
        if not challenge or not domain:
            raise NotACredential("A presentation is checked against the challenge and domain you gave its holder.")
        result = vc.verify_presentation(
            document,
            challenge=challenge,
            domain=domain,
            resolver=resolver,
            status_lists=lists,
            policy=rule,
            now=now,
            holder_is_subject=True,  # ownership credentials are about their holder
        )
        creds = document.get("verifiableCredential")
        creds = [creds] if isinstance(creds, Mapping) else creds if isinstance(creds, list) else []
        first = creds[0] if creds else None
        if result.ok:
            holder = result.issuer
            issuers = [c.issuer for c in result.credentials if c.issuer]
            outcome = _outcome("presentation", result, first)
            return Outcome(**{**outcome.__dict__, "issuer": issuers[0] if issuers else holder})
        return _outcome("presentation", result, first)
    if vc.CREDENTIAL_TYPE in types:
        result = vc.verify_credential(document, resolver=resolver, status_lists=lists, policy=rule, now=now)
        return _outcome("credential", result, document)
    raise NotACredential(
        "This is JSON, but not a verifiable credential or presentation: its type names neither "
        "VerifiableCredential nor VerifiablePresentation."
    )
