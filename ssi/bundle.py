"""Exported twin bundles: one JSON file that proves a twin's identity and history.

Format (``format`` = ``thingstead-twin-bundle/1``)::

    {
      "format": "thingstead-twin-bundle/1",
      "did": "did:webvh:…",          # optional; if present, must be the log's current DID
      "did_log": [ … ],              # did.jsonl entries, as objects or as JSON-line strings
      "history": [ … ],              # ssi.history entries, oldest first (may be empty)
      "head": {                      # signed by the twin's agent key when the bundle was made
        "type": "TwinHistoryHead",
        "did": "did:webvh:…",        # the twin's DID at that time
        "seq": 12,                   # the last entry's seq (0: no history yet)
        "entry_hash": "uEiB…",       # its entry hash (no history: the genesis anchor)
        "time": "…Z",                # when the head was signed
        "proof": { … }               # eddsa-jcs-2022, assertionMethod, verificationMethod "<did>#key-1"
      },
      "exported_at": "…"             # optional, informational, not signed
    }

Verification (:func:`verify_bundle`) needs nothing but this file: the DID log
is verified with :func:`ssi.webvh.verify_log`, the twin keys and their
validity periods come from it (:meth:`ssi.history.KeySchedule.from_log`), and
the history is verified against those keys and the log's SCID with
:func:`ssi.history.verify_chain`. The server calls the same functions
(SECURITY 11).

Every entry is signed, but nothing in the entries says how many there are: a
bundle with its last entries cut off would still be a valid chain. The *head*
closes that gap: the twin's agent key signs, at export time, the seq and hash
of the last entry, and the verifier refuses a history that does not end exactly
there ("the history was cut after entry N"). The head's key must be a twin key
(assertionMethod) in the DID log version current at the head's time, exactly
as for history entries, so a seller's old twin key cannot sign a head after the
sale. A bundle without a head is refused (see :func:`verify_bundle`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ssi import history, jcs, proofs, webvh
from ssi.credentials import method_key
from ssi.errors import HistoryError, LogError, SSIError
from ssi.keys import SigningKey

FORMAT = "thingstead-twin-bundle/1"
HEAD_TYPE = "TwinHistoryHead"
HEAD_FIELDS = frozenset({"type", "did", "seq", "entry_hash", "time", "proof"})


class BundleError(SSIError):
    """A bundle failed; ``where`` names the part (``did_log entry 3``, ``history entry 5``)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class BundleReport:
    did: str
    scid: str
    log_versions: int
    entries: int
    redacted: int
    owner_keys: tuple[str, ...]
    twin_keys: tuple[str, ...]
    deactivated: bool
    log: webvh.LogState
    head_time: str

    def summary(self) -> str:
        owner = ", ".join(self.owner_keys) or "none (deactivated)"
        return f"OK: {self.entries} entries, {self.redacted} redacted, owner key {owner}"


def make_bundle(
    log: webvh.LogState,
    entries: list[Mapping[str, Any]],
    *,
    key: SigningKey | None = None,
    time: datetime | str | None = None,
    exported_at: str | None = None,
) -> dict[str, Any]:
    """Assemble a bundle from a verified log and history entries; ``key`` (the twin's agent key) signs its head
    at ``time`` (default now). Without ``key`` the bundle has no head, and :func:`verify_bundle` refuses it."""
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "did": log.did,
        "did_log": list(log.entries),
        "history": list(entries),
    }
    if key is not None:
        bundle["head"] = sign_head(did=log.did, document=log.document, entries=entries, key=key, time=time)
    if exported_at:
        bundle["exported_at"] = exported_at
    return bundle


def sign_head(
    *,
    did: str,
    document: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    key: SigningKey,
    time: datetime | str | None = None,
    scid: str | None = None,
) -> dict[str, Any]:
    """The head of ``entries`` signed by ``key``, which ``document`` (the twin's DID document) must list under
    assertionMethod; its verification method is that entry's DID URL. ``scid`` is needed for an empty history
    (the head then names the genesis anchor)."""
    vm = _method_id(document, key)
    if entries:
        seq, entry_hash = entries[-1]["seq"], history.entry_hash(entries[-1])
    else:
        if scid is None:
            raise SSIError("an empty history's head needs the SCID")
        seq, entry_hash = 0, history.genesis_hash(scid)
    when = time if isinstance(time, str) else history.format_time(time)
    head = {"type": HEAD_TYPE, "did": did, "seq": seq, "entry_hash": entry_hash, "time": when}
    return proofs.sign_document(head, key, verification_method=vm, created=when)


def _method_id(document: Mapping[str, Any], key: SigningKey) -> str:
    did = document.get("id", "")
    for vm in document.get("verificationMethod") or ():
        vid = str(vm.get("id", ""))
        vid = did + vid if vid.startswith("#") else vid
        if vm.get("publicKeyMultibase") == key.multibase:
            try:
                method_key(document, vid, "assertionMethod")
            except SSIError:
                continue
            return vid
    raise SSIError("the key is not an assertionMethod key of the twin's DID document")


def verify_bundle(data: str | bytes | Mapping[str, Any], *, now: datetime | None = None) -> BundleReport:
    """Verify a bundle (text or parsed); raise :class:`BundleError` on failure.

    A bundle without a signed head is refused, including those exported before heads existed: without one,
    a bundle cut short is indistinguishable from a complete one, and accepting headless bundles (even with a
    warning) would let anyone defeat the check by deleting the head. The owner can export again at any time.
    """
    simple = False
    if isinstance(data, (str, bytes)):
        try:
            data, simple = jcs.loads(data)
        except SSIError as exc:
            raise BundleError("bundle", str(exc)) from None
    if not isinstance(data, dict):
        raise BundleError("bundle", "must be a JSON object")
    if data.get("format", FORMAT) != FORMAT:
        raise BundleError("bundle", f"unknown format {data.get('format')!r}")
    log_lines, entries = data.get("did_log"), data.get("history", [])
    if not isinstance(log_lines, list) or not isinstance(entries, list):
        raise BundleError("bundle", "did_log and history must be lists")
    try:
        log = webvh.verify_log(log_lines, now=now, assume_simple=simple)
    except LogError as exc:
        raise BundleError(f"did_log entry {exc.version}", exc.reason) from None
    if "did" in data and data["did"] != log.did:
        raise BundleError("bundle", "did does not match the DID log")
    schedule = history.KeySchedule.from_log(log)
    try:
        report = history.verify_chain(entries, schedule, scid=log.scid, now=now, assume_simple=simple)
    except HistoryError as exc:
        raise BundleError(f"history entry {exc.seq}", exc.reason) from None
    if "head" not in data:
        raise BundleError(
            "bundle",
            "it has no signed head, so nothing shows that its history is complete "
            "(exported before heads existed, or the head was removed): export it again",
        )
    head_time = _verify_head(data["head"], log, entries, report, now=now, simple=simple)
    return BundleReport(
        did=log.did,
        scid=log.scid,
        log_versions=log.version_number,
        entries=report.count,
        redacted=report.redacted,
        owner_keys=log.update_keys,
        twin_keys=webvh.assertion_keys(log.document),
        deactivated=log.deactivated,
        log=log,
        head_time=head_time,
    )


def _head_version(log: webvh.LogState, t: datetime) -> webvh.Version:
    """The DID log version whose twin keys may sign a head at ``t``.

    A deactivated DID has no twin key, yet its bundle must still prove its history whole: its head is signed
    by a key of the last version before deactivation. Nothing can be appended after deactivation (entries
    dated then have no valid key), so such a head can only restate where the history ended.
    """
    version = webvh.find_version(log, version_time=t)
    if version.deactivated:
        active = [v for v in log.versions if not v.deactivated and v.time <= t]
        if not active:
            raise SSIError("the DID was never active")
        version = active[-1]
    return version


def _verify_head(
    head: Any,
    log: webvh.LogState,
    entries: list[Any],
    chain: history.ChainReport,
    *,
    now: datetime | None,
    simple: bool,
) -> str:
    try:
        if not isinstance(head, dict) or head.keys() != HEAD_FIELDS or head["type"] != HEAD_TYPE:
            raise SSIError(f"the head must have exactly {sorted(HEAD_FIELDS)} and type {HEAD_TYPE}")
        if head["did"] != log.did:
            raise SSIError(f"the head names {head['did']!r}, not this twin")
        t = history._parse_time(head["time"])
        if t > (now or datetime.now(UTC)) + history.MAX_FUTURE_SKEW:
            raise SSIError("the head is dated more than 5 minutes in the future")
        if entries and t < history._parse_time(entries[-1]["time"]):
            raise SSIError("the head is dated before the last entry")
        version = _head_version(log, t)
        vm = head["proof"].get("verificationMethod") if isinstance(head["proof"], dict) else None
        if not isinstance(vm, str) or vm.partition("#")[0] != version.did:
            raise SSIError(f"the head is signed by {vm!r}, not by a key of {version.did}")
        key = method_key(version.document, vm, "assertionMethod")
        if head["proof"].get("created") != head["time"]:
            raise SSIError("the head's proof and time disagree")
        proofs.verify_proof(head, resolve_key=lambda _: key, simple=simple)
    except BundleError:
        raise
    except SSIError as exc:
        raise BundleError("head", f"not signed by the twin's key at its time: {exc}") from None
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise BundleError("head", f"malformed ({type(exc).__name__}: {exc})") from None
    seq = head["seq"]
    if type(seq) is not int or seq < 0:
        raise BundleError("head", "seq must be a non-negative integer")
    if chain.count < seq:
        raise BundleError("history", f"the history was cut after entry {chain.count} (the signed head names {seq})")
    if chain.count > seq:
        raise BundleError("history", f"the history runs past its signed head (entry {seq} of {chain.count})")
    expected = chain.head_hash if entries else history.genesis_hash(log.scid)
    if head["entry_hash"] != expected:
        raise BundleError("history", f"entry {seq} is not the entry the signed head names")
    return head["time"]
