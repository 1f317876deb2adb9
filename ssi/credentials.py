"""W3C Verifiable Credentials Data Model 2.0, secured with Data Integrity ``eddsa-jcs-2022``.

- A credential (VC DM 2.0 §4) has ``@context`` starting with
  ``https://www.w3.org/ns/credentials/v2``, a ``type`` holding
  ``VerifiableCredential``, an ``issuer`` (a DID, or an object with its ``id``),
  ``credentialSubject``, optional ``id``, ``validFrom``, ``validUntil`` and
  ``credentialStatus``. Its proof (VC Data Integrity §2.1) is made by a key of the
  issuer with ``proofPurpose: assertionMethod``; the verification method must be
  a DID URL of the issuer's DID.
- A presentation (§4.13) has ``type: VerifiablePresentation``, a ``holder`` and
  ``verifiableCredential`` (the embedded credentials); its proof has
  ``proofPurpose: authentication`` and carries the verifier's ``challenge`` and
  ``domain`` (VC Data Integrity §2.1.1), so it cannot be replayed to another
  verifier or for another request.

Keys come from a :data:`Resolver`: did:key URLs resolve by themselves; did:webvh
DID URLs through :func:`log_resolver` over a verified local DID log, taking the
version that was current when the proof was made (its ``created``), so a key the
issuer rotated out later still verifies what it signed while it was valid, and a
key added later cannot backdate a credential.

Verification returns a :class:`Verification` with a :class:`Verdict` and a
sentence a shop assistant can read aloud. The order of the checks, and so which
verdict wins when several apply: the shape and the proof (``tampered``); a
missing input (``cannot_check``: no DID log for the issuer, no status list);
the caller's policy (``untrusted_issuer``: claims of an issuer we do not accept
mean nothing, so its dates and status are not discussed); the validity period
(``not_yet_valid``, ``expired``); the status list (``revoked``). A
presentation checks its own proof, then ``challenge`` (``wrong_challenge``) and
``domain`` (``wrong_domain``), then each credential in turn.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ssi import jcs, proofs, statuslist, webvh
from ssi.didkey import key_url, method_key_from_did_key
from ssi.errors import DIDError, ProofError, SSIError
from ssi.keys import SigningKey, VerifyKey

VC_CONTEXT = statuslist.VC_CONTEXT
CREDENTIAL_TYPE = "VerifiableCredential"
PRESENTATION_TYPE = "VerifiablePresentation"
_MONTHS = (
    "January February March April May June July August September October November December".split()
)  # spelled out here: strftime("%B") follows the process locale
_MALFORMED = (TypeError, KeyError, AttributeError, ValueError, RecursionError)


def _is_map(value: Any) -> bool:
    """isinstance(value, Mapping), answered without the ABC machinery for the usual case (parsed JSON is dicts):
    it runs several times per verified credential."""
    return type(value) is dict or isinstance(value, Mapping)


class Verdict(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    TAMPERED = "tampered"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    WRONG_CHALLENGE = "wrong_challenge"
    WRONG_DOMAIN = "wrong_domain"
    WRONG_HOLDER = "wrong_holder"
    CANNOT_CHECK = "cannot_check"


@dataclass(frozen=True)
class Verification:
    """The outcome: ``verdict``, ``reason`` (plain words), ``detail`` (the technical cause, for logs)."""

    verdict: Verdict
    reason: str
    detail: str = ""
    issuer: str | None = None
    document: Mapping[str, Any] | None = field(default=None, repr=False)
    credentials: tuple[Verification, ...] = ()  # a presentation's credentials, in order

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID

    def line(self) -> str:
        """``OK: …`` or ``FAIL: <verdict>: <reason>`` (what ``python -m ssi.verify`` prints)."""
        return f"OK: {self.reason}" if self.ok else f"FAIL: {self.verdict}: {self.reason}"


class Unresolvable(DIDError):
    """The resolver lacks what it needs (no DID log for this DID, an unsupported DID method): ``cannot_check``,
    not ``tampered``."""


class Resolver(Protocol):
    def __call__(self, verification_method: str, *, purpose: str, at: datetime) -> VerifyKey:
        """The key ``verification_method`` named at time ``at`` for ``purpose`` (``assertionMethod`` or
        ``authentication``). Raises :class:`Unresolvable` when it cannot tell, :class:`~ssi.errors.SSIError`
        when the method was not the DID's key for that purpose at that time."""
        ...


Policy = Callable[[Mapping[str, Any]], "str | None"]
"""A verifier's acceptance rule: given the (cryptographically verified) credential, ``None`` to accept or a
sentence saying why not."""


@dataclass(frozen=True)
class IssuerPolicy:
    """ "The issuer must be one of these DIDs, the subject's ``model`` one of these": a :data:`Policy`.

    ``issuers``: accepted issuer DIDs (``None``: any). ``subject``: for each named member of
    ``credentialSubject``, the accepted values. ``types``: types the credential must have.
    """

    issuers: Collection[str] | None = None
    subject: Mapping[str, Collection[Any]] = field(default_factory=dict)
    types: Collection[str] = ()

    def __call__(self, credential: Mapping[str, Any]) -> str | None:
        # Each part is read only when the policy has a rule about it: a verifier may run this per request.
        if self.issuers is not None:
            issuer = issuer_id(credential)
            if issuer not in self.issuers:
                return f"It was issued by {issuer}, which is not an issuer you accept."
        if self.types:
            have = _types(credential)
            for t in self.types:
                if t not in have:
                    return f"It is not a {t}."
        if not self.subject:
            return None
        subjects = _subjects(credential)
        for name, accepted in self.subject.items():
            for s in subjects:
                value = s.get(name)
                if isinstance(value, (dict, list)) or value not in accepted:
                    shown = "missing" if value is None else repr(value)
                    return f"Its {name} ({shown}) is not on your accepted list."
        return None


# ---------------------------------------------------------------------------
# Resolvers


def resolve_did_key(verification_method: str, *, purpose: str, at: datetime) -> VerifyKey:
    """The default :data:`Resolver`: did:key URLs only (``did:key:z6Mk…#z6Mk…``), valid at any time for any
    purpose (a did:key document lists its one key under every relationship)."""
    if not verification_method.startswith("did:key:"):
        raise Unresolvable(f"cannot resolve {verification_method.partition('#')[0]} without its DID log")
    return method_key_from_did_key(verification_method)


def method_key(document: Mapping[str, Any], verification_method: str, purpose: str) -> VerifyKey:
    """The Ed25519 key ``verification_method`` names in a DID document, if the document lists it under
    ``purpose`` (embedded, or by absolute or relative reference)."""
    did = document.get("id", "")
    wanted = verification_method

    def absolute(ref: str) -> str:
        return did + ref if ref.startswith("#") else ref

    methods = {
        absolute(str(vm.get("id", ""))): vm for vm in document.get("verificationMethod") or () if isinstance(vm, dict)
    }
    for ref in document.get(purpose) or ():
        vm = ref if isinstance(ref, dict) else methods.get(absolute(str(ref)))
        if isinstance(vm, dict) and absolute(str(vm.get("id", ""))) == wanted:
            mb = vm.get("publicKeyMultibase")
            if isinstance(mb, str) and mb.startswith("z6Mk"):
                return VerifyKey.from_multibase(mb)
    raise DIDError(f"{wanted} is not an {purpose} key of {did}")


def log_resolver(*logs: webvh.LogState) -> Resolver:
    """A :data:`Resolver` for did:key URLs and for did:webvh DID URLs whose (verified) DID logs are given.

    The version used is the one current at ``at`` (the proof's ``created``): the key must be listed under the
    purpose in that version, the DID must have existed and not yet be deactivated, and the DID URL must name
    the DID as it was then (a portable DID that moved keeps its SCID, not its domain).
    """
    by_scid = {log.scid: log for log in logs}

    def resolve(verification_method: str, *, purpose: str, at: datetime) -> VerifyKey:
        if verification_method.startswith("did:key:"):
            return resolve_did_key(verification_method, purpose=purpose, at=at)
        did, sep, _ = verification_method.partition("#")
        if not did.startswith(webvh.PREFIX) or not sep:
            raise Unresolvable(f"cannot resolve {did}: only did:key and did:webvh (with its log) are supported")
        scid = webvh.parse_did(did).scid
        log = by_scid.get(scid)
        if log is None:
            raise Unresolvable(f"no DID log was supplied for {did}")
        version = webvh.find_version(log, version_time=at)  # DIDError: the DID did not exist yet
        if version.did != did:
            raise DIDError(f"at {at.isoformat()} the DID was {version.did}, not {did}")
        if version.deactivated:
            raise DIDError(f"{did} was deactivated at {version.time_raw}")
        return method_key(version.document, verification_method, purpose)

    return resolve


# ---------------------------------------------------------------------------
# Building and signing


def format_time(t: datetime | str | None = None) -> str:
    """XML Schema dateTimeStamp in UTC, to the second (``2027-03-03T12:00:00Z``); a string passes as is."""
    if isinstance(t, str):
        return t
    return (t or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def credential(
    *,
    issuer: str,
    subject: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    types: Sequence[str] = (),
    id: str | None = None,
    valid_from: datetime | str | None = None,
    valid_until: datetime | str | None = None,
    status: Mapping[str, Any] | None = None,
    contexts: Sequence[Any] = (),
) -> dict[str, Any]:
    """An unsigned VC DM 2.0 credential (sign it with :func:`issue`)."""
    cred: dict[str, Any] = {
        "@context": [VC_CONTEXT, *contexts],
        "type": [CREDENTIAL_TYPE, *(t for t in types if t != CREDENTIAL_TYPE)],
    }
    if id is not None:
        cred["id"] = id
    cred["issuer"] = issuer
    if valid_from is not None:
        cred["validFrom"] = format_time(valid_from)
    if valid_until is not None:
        cred["validUntil"] = format_time(valid_until)
    cred["credentialSubject"] = dict(subject) if isinstance(subject, Mapping) else [dict(s) for s in subject]
    if status is not None:
        cred["credentialStatus"] = dict(status)
    return cred


def issue(
    unsigned: Mapping[str, Any],
    key: SigningKey,
    *,
    verification_method: str | None = None,
    created: datetime | str | None = None,
) -> dict[str, Any]:
    """Sign a credential (assertionMethod). ``verification_method`` defaults to the key's did:key URL and must
    be a DID URL of the issuer when the issuer is a DID. Raises :class:`~ssi.errors.SSIError` for a malformed
    credential."""
    _check_credential(unsigned)
    vm = verification_method or _did_key_url(key)
    if issuer_id(unsigned).startswith("did:") and vm.partition("#")[0] != issuer_id(unsigned):
        raise SSIError(f"the verification method {vm} does not belong to the issuer {issuer_id(unsigned)}")
    return proofs.sign_document(unsigned, key, verification_method=vm, created=format_time(created))


def present(
    credentials: Sequence[Mapping[str, Any]],
    key: SigningKey,
    *,
    challenge: str,
    domain: str,
    holder: str | None = None,
    verification_method: str | None = None,
    id: str | None = None,
    created: datetime | str | None = None,
) -> dict[str, Any]:
    """A signed presentation of ``credentials`` for the verifier that chose ``challenge`` and ``domain``.
    ``holder`` defaults to the key's did:key; ``verification_method`` to its did:key URL."""
    vm = verification_method or _did_key_url(key)
    holder = holder or vm.partition("#")[0]
    if vm.partition("#")[0] != holder:
        raise SSIError(f"the verification method {vm} does not belong to the holder {holder}")
    vp: dict[str, Any] = {"@context": [VC_CONTEXT], "type": [PRESENTATION_TYPE]}
    if id is not None:
        vp["id"] = id
    vp["holder"] = holder
    vp["verifiableCredential"] = [dict(c) for c in credentials]
    return proofs.sign_document(
        vp,
        key,
        verification_method=vm,
        proof_purpose="authentication",
        created=format_time(created),
        extra={"challenge": challenge, "domain": domain},
    )


def _did_key_url(key: SigningKey) -> str:
    return key_url(key.verify_key)


# ---------------------------------------------------------------------------
# Reading


def issuer_id(cred: Mapping[str, Any]) -> str:
    issuer = cred.get("issuer")
    if _is_map(issuer):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or ":" not in issuer:
        raise SSIError("issuer must be a URL (a DID) or an object with one as its id")
    return issuer


def _types(doc: Mapping[str, Any]) -> list[str]:
    t = doc.get("type")
    return [t] if isinstance(t, str) else list(t) if isinstance(t, list) else []


def _subjects(cred: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    s = cred.get("credentialSubject")
    return [s] if _is_map(s) else list(s) if isinstance(s, list) else []


def _parse_time(raw: Any, name: str) -> datetime:
    """An XML Schema dateTimeStamp: a time zone is required (VC DM 2.0 §4.9)."""
    if not isinstance(raw, str):
        raise SSIError(f"{name} must be a date-time string")
    try:
        t = _fromisoformat(raw)
    except ValueError:
        raise SSIError(f"{name} is not a date-time: {raw!r}") from None
    if t.tzinfo is None:
        raise SSIError(f"{name} has no time zone: {raw!r}")
    return t


# A credential's dates are read twice while it is verified (its shape, then its validity period): the second
# read is a lookup. Datetimes are immutable; an unparsable string raises and is not kept.
_fromisoformat = functools.lru_cache(maxsize=256)(datetime.fromisoformat)


def _check_context(doc: Mapping[str, Any]) -> None:
    ctx = doc.get("@context")
    if not isinstance(ctx, list) or not ctx or ctx[0] != VC_CONTEXT:
        raise SSIError(f"@context must be a list starting with {VC_CONTEXT}")


def _check_credential(cred: Any) -> tuple[str, datetime | None, datetime | None]:
    """Raise :class:`SSIError` unless ``cred`` has a credential's shape; return its issuer and its validity period
    (``validFrom``, ``validUntil`` or None), which the verifier uses next without reading them again."""
    # _check_context, _types and _subjects spelled out: this runs for every credential verified.
    if not _is_map(cred):
        raise SSIError("a credential must be a JSON object")
    ctx = cred.get("@context")
    if not isinstance(ctx, list) or not ctx or ctx[0] != VC_CONTEXT:
        raise SSIError(f"@context must be a list starting with {VC_CONTEXT}")
    t = cred.get("type")
    if not (t == CREDENTIAL_TYPE if isinstance(t, str) else isinstance(t, list) and CREDENTIAL_TYPE in t):
        raise SSIError("type must include VerifiableCredential")
    issuer = issuer_id(cred)
    s = cred.get("credentialSubject")
    if _is_map(s):
        subjects_ok = bool(s)
    else:
        subjects_ok = isinstance(s, list) and bool(s) and all(_is_map(x) and x for x in s)
    if not subjects_ok:
        raise SSIError("credentialSubject must be a non-empty object (or a list of them)")
    start = _parse_time(cred["validFrom"], "validFrom") if "validFrom" in cred else None
    end = _parse_time(cred["validUntil"], "validUntil") if "validUntil" in cred else None
    if "id" in cred and not isinstance(cred["id"], str):
        raise SSIError("id must be a URL")
    return issuer, start, end


@functools.lru_cache(maxsize=256)  # a pure function of an immutable value; most credentials share a few dates
def day(t: datetime) -> str:
    """``3 March 2027`` (UTC)."""
    t = t.astimezone(UTC)
    return f"{t.day} {_MONTHS[t.month - 1]} {t.year}"


# ---------------------------------------------------------------------------
# Status lists


@dataclass
class _Cached:
    document: Mapping[str, Any]
    result: Verification | None = None
    bits: statuslist.Bitstring | None = None
    purpose: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class StatusLists:
    """The status list credentials a verifier holds, by URL (their ``id``). Each list's proof is verified once,
    on first use, and its bits kept: verifying many credentials against one list costs one bit test each."""

    def __init__(self, lists: Iterable[Mapping[str, Any]] = ()) -> None:
        self._lists: dict[str, _Cached] = {}
        for doc in lists:
            self.add(doc)

    def add(self, document: Mapping[str, Any]) -> None:
        url = document.get("id") if isinstance(document, Mapping) else None
        if not isinstance(url, str):
            raise SSIError("a status list credential needs its URL as id")
        self._lists[url] = _Cached(document)

    def __contains__(self, url: object) -> bool:
        return url in self._lists

    def check(
        self, entry: statuslist.StatusEntry, issuer: str, *, resolver: Resolver, now: datetime
    ) -> Verification | None:
        """``None`` when the entry's bit is clear; a non-valid :class:`Verification` otherwise."""
        cached = self._lists.get(entry.url)
        if cached is None:
            return Verification(
                Verdict.CANNOT_CHECK,
                f"Cannot check whether it was revoked: the status list {entry.url} was not supplied.",
                issuer=issuer,
            )
        if cached.result is None:
            cached.result = _verify_list(cached, resolver=resolver)
        if cached.result.verdict is not Verdict.VALID:  # not .ok: a property call per credential
            return Verification(
                Verdict.CANNOT_CHECK,
                f"Cannot check whether it was revoked: its status list is not usable ({cached.result.reason})",
                detail=cached.result.detail,
                issuer=issuer,
            )
        if cached.result.issuer != issuer:
            # Only the issuer may say whether its credential stands: another party's list proves nothing.
            return Verification(
                Verdict.CANNOT_CHECK,
                "Cannot check whether it was revoked: its status list was published by someone else.",
                detail=f"list issuer {cached.result.issuer}, credential issuer {issuer}",
                issuer=issuer,
            )
        if (cached.valid_from and now < cached.valid_from) or (cached.valid_until and now > cached.valid_until):
            return Verification(
                Verdict.CANNOT_CHECK,
                "Cannot check whether it was revoked: the status list supplied is out of date.",
                issuer=issuer,
            )
        if cached.purpose != entry.purpose:
            return Verification(
                Verdict.CANNOT_CHECK,
                f"Cannot check its status: the list is for {cached.purpose}, the credential asks about "
                f"{entry.purpose}.",
                issuer=issuer,
            )
        assert cached.bits is not None
        try:
            revoked = cached.bits.test(entry.index)
        except statuslist.StatusListError as exc:
            return Verification(
                Verdict.CANNOT_CHECK,
                "Cannot check whether it was revoked: its status entry is out of range.",
                detail=str(exc),
                issuer=issuer,
            )
        if revoked:
            return Verification(Verdict.REVOKED, "The issuer has revoked this credential.", issuer=issuer)
        return None


def _verify_list(cached: _Cached, *, resolver: Resolver) -> Verification:
    doc = cached.document
    result = _verify_signed_credential(doc, resolver=resolver, simple=False)
    if not result.ok:
        return result
    try:
        cached.bits, cached.purpose = statuslist.read_list(doc)
        cached.valid_from = _parse_time(doc["validFrom"], "validFrom") if "validFrom" in doc else None
        cached.valid_until = _parse_time(doc["validUntil"], "validUntil") if "validUntil" in doc else None
    except SSIError as exc:
        return Verification(Verdict.TAMPERED, "The status list is damaged.", detail=str(exc), issuer=result.issuer)
    return result


# ---------------------------------------------------------------------------
# Verifying


def _load(data: str | bytes | Mapping[str, Any]) -> tuple[Any, bool]:
    if isinstance(data, (str, bytes)):
        return jcs.loads(data)
    return data, False


def _tampered(what: str, detail: str, issuer: str | None = None) -> Verification:
    return Verification(
        Verdict.TAMPERED,
        f"This {what} has been altered or was not signed by its issuer: do not accept it.",
        detail=detail,
        issuer=issuer,
    )


def _verify_doc_proof(
    doc: Mapping[str, Any], controller: str, *, purpose: str, resolver: Resolver, simple: bool, what: str
) -> tuple[Verification | None, Mapping[str, Any]]:
    """Check a document's single proof; return (failure or None, proof)."""
    proof = doc.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
        doc = {**doc, "proof": proof}
    try:
        proofs.check_proof_shape(proof, expected_purpose=purpose)
    except ProofError as exc:
        return _tampered(what, str(exc), controller), {}
    assert isinstance(proof, dict)
    vm = proof["verificationMethod"]
    is_did = controller.startswith("did:")
    if is_did and vm.partition("#")[0] != controller:
        return _tampered(what, f"signed by {vm}, which is not a key of {controller}", controller), proof
    try:
        at = _parse_time(proof["created"], "proof created") if "created" in proof else datetime.now(UTC)
    except SSIError as exc:
        return _tampered(what, str(exc), controller), proof
    try:
        key = resolver(vm, purpose=purpose, at=at)
    except Unresolvable as exc:
        return (
            Verification(
                Verdict.CANNOT_CHECK,
                f"Cannot check who signed this {what}: {exc}.",
                detail=str(exc),
                issuer=controller,
            ),
            proof,
        )
    except SSIError as exc:
        return _tampered(what, f"signing key not valid: {exc}", controller), proof
    try:
        # One walk over the whole signed document vouches for the numbers of both parts that are canonicalised
        # (the unsecured document, the proof configuration); when it finds a number the fast path cannot print,
        # each part takes the full check on its own.
        plain = simple or jcs.plain_numbers(doc)
        unsecured = dict(doc)
        del unsecured["proof"]
        canonical = jcs.canonicalize(unsecured, simple=simple, plain=plain)
        proofs.verify_with_key(doc, proof, key, canonical_document=canonical, simple=simple, plain=plain)
    except SSIError as exc:
        return _tampered(what, str(exc), controller), proof
    if not is_did:
        # The W3C vectors' issuer is an https URL: the signature holds, but nothing offline ties its key to it.
        return (
            Verification(
                Verdict.CANNOT_CHECK,
                f"The signature is intact, but the {'issuer' if what == 'credential' else 'holder'} {controller} is "
                "a web address, not a DID: who signed it cannot be confirmed offline.",
                detail=f"signed by {vm}",
                issuer=controller,
            ),
            proof,
        )
    return None, proof


def _signed(
    cred: Any, *, resolver: Resolver, simple: bool
) -> Verification | tuple[str, datetime | None, datetime | None]:
    """Shape and proof only: the failure, or (issuer, validFrom, validUntil) when both hold."""
    try:
        checked = _check_credential(cred)
    except SSIError as exc:
        return _tampered("credential", str(exc))
    failure, _ = _verify_doc_proof(
        cred, checked[0], purpose="assertionMethod", resolver=resolver, simple=simple, what="credential"
    )
    return checked if failure is None else failure


def _verify_signed_credential(cred: Any, *, resolver: Resolver, simple: bool) -> Verification:
    """Shape and proof only."""
    checked = _signed(cred, resolver=resolver, simple=simple)
    if isinstance(checked, Verification):
        return checked
    issuer = checked[0]
    return Verification(Verdict.VALID, f"Issued by {issuer}.", issuer=issuer, document=cred)


def verify_credential(
    data: str | bytes | Mapping[str, Any],
    *,
    resolver: Resolver | None = None,
    status_lists: StatusLists | Iterable[Mapping[str, Any]] | None = None,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> Verification:
    """Verify a credential (JSON text or parsed) at ``now`` (default: the current time).

    ``resolver`` defaults to did:key only (:func:`resolve_did_key`); ``status_lists`` holds the status list
    credentials its ``credentialStatus`` may point at (a :class:`StatusLists` keeps their verification
    between calls); ``policy`` decides whether the issuer and the claims are acceptable. Never raises for bad
    input: every failure is a verdict.
    """
    now = now or datetime.now(UTC)
    resolver = resolver or resolve_did_key
    try:
        cred, simple = _load(data)
    except SSIError as exc:
        return _tampered("credential", f"not JSON: {exc}")
    try:
        return _verify_credential(cred, simple, resolver, _lists(status_lists), policy, now)
    except _MALFORMED as exc:
        return _tampered("credential", f"malformed ({type(exc).__name__}: {exc})")


def _lists(status_lists: StatusLists | Iterable[Mapping[str, Any]] | None) -> StatusLists:
    if isinstance(status_lists, StatusLists):
        return status_lists
    return StatusLists(status_lists or ())


def _verify_credential(
    cred: Any, simple: bool, resolver: Resolver, lists: StatusLists, policy: Policy | None, now: datetime
) -> Verification:
    # _signed spelled out (one call fewer per credential).
    try:
        issuer, start, end = _check_credential(cred)
    except SSIError as exc:
        return _tampered("credential", str(exc))
    failure, _ = _verify_doc_proof(
        cred, issuer, purpose="assertionMethod", resolver=resolver, simple=simple, what="credential"
    )
    if failure is not None:
        return failure
    if policy is not None:
        refusal = policy(cred)
        if refusal:
            return Verification(Verdict.UNTRUSTED_ISSUER, f"Not accepted here: {refusal}", issuer=issuer, document=cred)
    if start is not None:
        if now < start:
            return Verification(
                Verdict.NOT_YET_VALID,
                f"This credential is not valid until {day(start)}.",
                detail=cred["validFrom"],
                issuer=issuer,
                document=cred,
            )
    if end is not None:
        if now > end:
            return Verification(
                Verdict.EXPIRED,
                f"This credential expired on {day(end)}.",
                detail=cred["validUntil"],
                issuer=issuer,
                document=cred,
            )
    status = cred.get("credentialStatus")
    for raw in [] if status is None else status if isinstance(status, list) else [status]:
        try:
            entry = statuslist.read_entry(raw)
        except statuslist.StatusListError as exc:
            return Verification(
                Verdict.CANNOT_CHECK,
                "Cannot check whether it was revoked: its status entry is of a kind this verifier does not read.",
                detail=str(exc),
                issuer=issuer,
            )
        if entry.purpose != "revocation":
            return Verification(
                Verdict.CANNOT_CHECK,
                f"Cannot check its {entry.purpose} status: this verifier checks revocation only.",
                issuer=issuer,
            )
        problem = lists.check(entry, issuer, resolver=resolver, now=now)
        if problem is not None:
            return problem
    until = f", valid until {day(end)}" if end is not None else ""
    return Verification(Verdict.VALID, f"Valid credential issued by {issuer}{until}.", issuer=issuer, document=cred)


def verify_presentation(
    data: str | bytes | Mapping[str, Any],
    *,
    challenge: str,
    domain: str,
    resolver: Resolver | None = None,
    status_lists: StatusLists | Iterable[Mapping[str, Any]] | None = None,
    policy: Policy | None = None,
    now: datetime | None = None,
    holder_is_subject: bool = False,
) -> Verification:
    """Verify a presentation made for this verifier (its ``challenge`` and ``domain``), then each embedded
    credential as :func:`verify_credential` does. The first failure decides the verdict; ``credentials`` holds
    each credential's own result.

    ``holder_is_subject``: holder binding, for credentials about their holder (ownership: "the subject owns
    thing X"): each credential must name the presenting holder as its subject, else WRONG_HOLDER. Off by default,
    since a credential may be about something else (a warranty about a grinder) and who may show it is then the
    verifier's policy."""
    now = now or datetime.now(UTC)
    resolver = resolver or resolve_did_key
    lists = _lists(status_lists)
    try:
        vp, simple = _load(data)
    except SSIError as exc:
        return _tampered("presentation", f"not JSON: {exc}")
    try:
        return _verify_presentation(vp, simple, challenge, domain, resolver, lists, policy, now, holder_is_subject)
    except _MALFORMED as exc:
        return _tampered("presentation", f"malformed ({type(exc).__name__}: {exc})")


def _subject_ids(cred: Mapping[str, Any]) -> list[str]:
    """The ids of a credential's subjects."""
    subject = cred.get("credentialSubject")
    subjects = subject if isinstance(subject, list) else [subject]
    return [s["id"] for s in subjects if isinstance(s, Mapping) and isinstance(s.get("id"), str)]


def _verify_presentation(
    vp: Any,
    simple: bool,
    challenge: str,
    domain: str,
    resolver: Resolver,
    lists: StatusLists,
    policy: Policy | None,
    now: datetime,
    holder_is_subject: bool,
) -> Verification:
    try:
        if not isinstance(vp, Mapping):
            raise SSIError("a presentation must be a JSON object")
        _check_context(vp)
        if PRESENTATION_TYPE not in _types(vp):
            raise SSIError("type must include VerifiablePresentation")
        holder = vp.get("holder")
        if isinstance(holder, Mapping):
            holder = holder.get("id")
        if not isinstance(holder, str):
            raise SSIError("a presentation must name its holder")
        creds = vp.get("verifiableCredential", [])
        creds = [creds] if isinstance(creds, Mapping) else creds
        if not isinstance(creds, list):
            raise SSIError("verifiableCredential must be a list")
    except SSIError as exc:
        return _tampered("presentation", str(exc))
    failure, proof = _verify_doc_proof(
        vp, holder, purpose="authentication", resolver=resolver, simple=simple, what="presentation"
    )
    if failure is not None:
        return failure
    if proof.get("challenge") != challenge:
        return Verification(
            Verdict.WRONG_CHALLENGE,
            "This presentation was made for a different request: ask the customer to show it again.",
            detail=f"challenge {proof.get('challenge')!r}, expected {challenge!r}",
            issuer=holder,
        )
    if proof.get("domain") != domain:
        return Verification(
            Verdict.WRONG_DOMAIN,
            f"This presentation was made for {proof.get('domain')!r}, not for {domain!r}: ask for one made here.",
            detail=f"domain {proof.get('domain')!r}, expected {domain!r}",
            issuer=holder,
        )
    results = tuple(_verify_credential(c, simple, resolver, lists, policy, now) for c in creds)
    for i, r in enumerate(results, 1):
        if not r.ok:
            return Verification(
                r.verdict, f"Credential {i} of {len(results)}: {r.reason}", r.detail, holder, vp, results
            )
    for i, cred in enumerate(creds, 1) if holder_is_subject else ():
        subjects = _subject_ids(cred)
        if holder not in subjects:
            # Holder binding: a valid credential shown by someone it was not issued to proves nothing about them.
            return Verification(
                Verdict.WRONG_HOLDER,
                "This credential belongs to someone else: the person showing it is not its holder.",
                detail=f"credential {i} of {len(creds)} issued to {', '.join(subjects)}, presented by {holder}",
                issuer=holder,
                document=vp,
                credentials=results,
            )
    return Verification(
        Verdict.VALID,
        f"Presented by {holder} with {len(results)} valid credential{'s' * (len(results) != 1)}.",
        issuer=holder,
        document=vp,
        credentials=results,
    )
