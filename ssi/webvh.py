"""did:webvh 1.0 DID logs: build, verify, resolve.

Spec: https://identity.foundation/didwebvh/v1.0/ (section names cited below).

A DID log is JSON Lines; each entry is
``{"versionId", "versionTime", "parameters", "state", "proof"}``.

Building (§"Create (Register)", §"Update (Rotate)", §"Deactivate (Revoke)"):

- SCID (§"SCID Generation and Verification"): the first entry is written with
  the literal ``{SCID}`` wherever the SCID will go (``versionId``, the
  ``scid`` parameter, the DID in ``state``); its JCS is hashed with sha2-256,
  the multihash is base58btc-encoded, and that string replaces every ``{SCID}``.
- Entry hash (§"Entry Hash Generation and Verification"): the entry without
  ``proof`` and with ``versionId`` set to the *previous* versionId (the SCID
  for entry 1) is hashed the same way; ``versionId`` becomes ``"<n>-<hash>"``.
- The proof is an ``eddsa-jcs-2022`` Data Integrity proof over the entry
  without ``proof`` (``proofPurpose`` ``assertionMethod``, did:key
  verificationMethod), stored as a one-element list.
- ``parameters`` holds only what changes; entry 1 carries ``method``,
  ``scid`` and ``updateKeys``.

Verification (:func:`verify_log`, §"Read (Resolve)") checks every entry in
order and stops at the first failure, raising :class:`LogError` with the
entry's 1-based position: version number = position (no gaps, no reordering,
no repeated ``n``: SECURITY 6), entry-hash chain and SCID (5), ``versionTime``
strictly increasing and at most five minutes ahead of the verifier's clock
(8), parameters valid, ``portable`` only in entry 1 and required for a change
of DID (the SCID never changes), nothing after deactivation, every proof an
allowlisted suite (9) by an authorised key (1):

- authorised keys are the previous entry's ``updateKeys`` (for entry 1 its
  own); but when the previous entry set ``nextKeyHashes`` (pre-rotation,
  §"Pre-Rotation Key Hash Generation and Verification") this entry MUST
  contain ``updateKeys``, every one of them must hash to a value in those
  ``nextKeyHashes`` (3; a key listed in some older entry is not enough), and
  the proof must come from one of these new keys: holding only the current
  key no longer suffices (4).

Witnesses are not supported: a log that configures a witness threshold is
rejected rather than accepted without checking witness proofs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ssi import jcs
from ssi.didkey import key_url
from ssi.errors import DIDError, LogError, SSIError
from ssi.keys import SigningKey, VerifyKey
from ssi.multibase import ALPHABET, SHA2_256, b58_spells, sha256_multihash_b58
from ssi.proofs import check_proof_shape, create_proof, proof_key, verify_with_key

METHOD = "did:webvh:1.0"
PREFIX = "did:webvh:"
SCID_PLACEHOLDER = "{SCID}"
MAX_FUTURE_SKEW = timedelta(minutes=5)
_MALFORMED = (TypeError, KeyError, AttributeError, ValueError, RecursionError)
LOG_FILENAME = "did.jsonl"
ENTRY_KEYS = frozenset({"versionId", "versionTime", "parameters", "state", "proof"})
KNOWN_PARAMS = frozenset(
    {"method", "scid", "updateKeys", "nextKeyHashes", "portable", "deactivated", "witness", "watchers", "ttl"}
)

# RFC 8785 §3.2.2.2 string form (the C json string encoder, no ASCII escaping).
_q = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring
_sha256 = hashlib.sha256

# ---------------------------------------------------------------------------
# DIDs and URLs (§"The DID to HTTPS Transformation")

# \Z ends each pattern: "$" would also accept a trailing newline (a DID "…:example.com\n" parsed as valid).
_SCID_RE = re.compile(f"^[{ALPHABET}]{{20,}}\\Z")
_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9._~-]+\Z")


@dataclass(frozen=True)
class WebvhDID:
    """A parsed did:webvh DID: SCID, DNS host, optional port, path segments."""

    scid: str
    host: str
    port: int | None = None
    path: tuple[str, ...] = ()

    @functools.cached_property  # read three times per log entry verified; the instance is frozen
    def did(self) -> str:
        domain = self.host + (f"%3A{self.port}" if self.port else "")
        return ":".join((PREFIX + self.scid, domain, *self.path))

    @property
    def base_url(self) -> str:
        """``https://host[:port]/path/`` (``/.well-known/`` with no path)."""
        host = self.host + (f":{self.port}" if self.port else "")
        path = self.path or (".well-known",)
        return "/".join((f"https://{host}", *path, ""))

    def url(self, filename: str = LOG_FILENAME) -> str:
        return self.base_url + filename


def _check_host(host: str) -> None:
    labels = host.split(".")
    # A DNS name only: at least two labels and a TLD that starts with a letter,
    # so dotted IPv4 literals (and percent-encoded ones) never pass.
    if len(labels) < 2 or not all(_LABEL_RE.match(x) for x in labels):
        raise DIDError(f"invalid domain {host!r} in did:webvh")
    if not labels[-1][0].isalpha():
        raise DIDError(f"domain {host!r} must be a DNS name, not an IP address")


def parse_did(did: str) -> WebvhDID:
    """Parse and validate a did:webvh DID (cached; see :func:`_parse_did`)."""
    if not isinstance(did, str):
        raise DIDError(f"not a did:webvh: {did!r}")
    return _parse_did(did)


@functools.lru_cache(maxsize=1024)
def _parse_did(did: str) -> WebvhDID:
    """Parse and validate a did:webvh DID (not a DID URL).

    Rejects fragments, queries, IP hosts, any percent-encoding other than the
    port separator ``%3A``, and ``.``/``..`` path segments (didwebvh test
    suite negative vectors: path traversal, percent-encoded IP/traversal,
    lowercase ``%3a``, fragment leaking into the host).
    """
    if not isinstance(did, str) or not did.startswith(PREFIX):
        raise DIDError(f"not a did:webvh: {did!r}")
    if any(c in did for c in "#?/ "):
        raise DIDError("a did:webvh DID has no fragment, query or slash")
    scid, *parts = did[len(PREFIX) :].split(":")
    if not parts or not _SCID_RE.match(scid):
        raise DIDError("did:webvh must be did:webvh:<SCID>:<domain>[:path…]")
    domain, *path = parts
    host, port = domain, None
    if "%" in domain:
        host, sep, port_text = domain.partition("%3A")
        if not sep or not port_text.isdecimal() or "%" in host:
            raise DIDError("only %3A (port separator) may be percent-encoded")
        port = int(port_text)
        if not 0 < port < 65536:
            raise DIDError("port out of range")
    _check_host(host)
    for seg in path:
        if not _SEGMENT_RE.match(seg) or seg in (".", ".."):
            raise DIDError(f"invalid path segment {seg!r} in did:webvh")
    return WebvhDID(scid=scid, host=host, port=port, path=tuple(path))


def make_did(scid: str, domain: str, path: Sequence[str] = ()) -> str:
    """``did:webvh:{scid}:{domain}[:path…]``; ``domain`` may be ``host:port``.

    ``scid`` may be :data:`SCID_PLACEHOLDER` (for a template document).
    """
    host, _, port = domain.partition(":")
    host = host.encode("idna").decode("ascii").lower()
    _check_host(host)
    w = WebvhDID(scid=scid, host=host, port=int(port) if port else None, path=tuple(path))
    if scid != SCID_PLACEHOLDER:
        parse_did(w.did)
    return w.did


def did_to_https(did: str, filename: str = LOG_FILENAME) -> str:
    """The URL of a DID's log (or another file, e.g. ``did.json``)."""
    return parse_did(did).url(filename)


def https_to_did(url: str, scid: str) -> str:
    """Inverse of :func:`did_to_https` for a log URL, given the SCID."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.query or parts.fragment or not parts.hostname:
        raise DIDError("expected an https URL without query or fragment")
    segs = parts.path.split("/")
    if segs[0] != "" or segs[-1] not in (LOG_FILENAME, "did.json"):
        raise DIDError("URL must end in /did.jsonl or /did.json")
    path = segs[1:-1]
    if path == [".well-known"]:
        path = []
    return parse_did(WebvhDID(scid=scid, host=parts.hostname, port=parts.port, path=tuple(path)).did).did


# ---------------------------------------------------------------------------
# State


@dataclass(frozen=True)
class Version:
    """What one verified entry established."""

    number: int
    version_id: str
    time: datetime
    time_raw: str
    did: str
    document: dict[str, Any]
    update_keys: tuple[str, ...]
    deactivated: bool
    signers: tuple[str, ...]


@dataclass(frozen=True)
class LogState:
    """The verified state after the last entry of a (prefix of a) DID log."""

    scid: str
    params: Mapping[str, Any]
    versions: tuple[Version, ...]
    entries: tuple[dict[str, Any], ...] = field(repr=False)

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    @property
    def did(self) -> str:
        return self.latest.did

    @property
    def document(self) -> dict[str, Any]:
        return self.latest.document

    @property
    def version_id(self) -> str:
        return self.latest.version_id

    @property
    def version_number(self) -> int:
        return self.latest.number

    @property
    def version_time(self) -> str:
        return self.latest.time_raw

    @property
    def update_keys(self) -> tuple[str, ...]:
        return tuple(self.params.get("updateKeys") or ())

    @property
    def next_key_hashes(self) -> tuple[str, ...]:
        return tuple(self.params.get("nextKeyHashes") or ())

    @property
    def portable(self) -> bool:
        return bool(self.params.get("portable"))

    @property
    def deactivated(self) -> bool:
        return bool(self.params.get("deactivated"))

    def jsonl(self) -> str:
        """The log as did.jsonl text (one JSON object per line, trailing newline)."""
        return "".join(json_line(e) + "\n" for e in self.entries)

    def metadata(self, version: Version | None = None) -> dict[str, Any]:
        """DID document metadata for ``version`` (default: latest), per §"Read"."""
        v = version or self.latest
        return {
            "versionId": v.version_id,
            "versionNumber": v.number,
            "versionTime": v.time_raw,
            "created": self.versions[0].time_raw,
            "updated": v.time_raw,
            "scid": self.scid,
            "portable": self.portable,
            "deactivated": v.deactivated,
        }


def json_line(entry: Mapping[str, Any]) -> str:
    """One did.jsonl line: compact JSON, no newline."""
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False)


def next_key_hash(multikey: str) -> str:
    """Pre-rotation commitment to a key: base58btc sha2-256 multihash of its string."""
    return sha256_multihash_b58(multikey.encode("utf-8"))


# ---------------------------------------------------------------------------
# Verification


def _parse_time(raw: Any) -> datetime:
    # The usual spelling (whole seconds, "Z") by one bytes.translate and a comparison, a third of the pattern's time
    # (bench/verify.py: one versionTime per entry); non-ASCII text encodes to other bytes and takes the pattern.
    if isinstance(raw, str) and raw.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_0) == _SECONDS_SHAPE:
        return datetime.fromisoformat(raw)
    if not isinstance(raw, str) or not _TIME_RE.match(raw):
        raise SSIError("versionTime must be an ISO 8601 UTC time like 2025-01-01T00:00:00Z")
    return datetime.fromisoformat(raw)


# \Z, not $: "$" also matches before a trailing newline, and both strings are hashed as they stand.
_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z\Z")
_VERSION_RE = re.compile(r"^([1-9][0-9]*)-([1-9A-HJ-NP-Za-km-z]+)\Z")
_DIGITS_TO_0 = bytes.maketrans(b"0123456789", b"0" * 10)
_SECONDS_SHAPE = b"0000-00-00T00:00:00Z"  # what _TIME_RE's whole-second form becomes under _DIGITS_TO_0
_MALFORMED_VERSION_ID = "versionId must be '<number>-<entryHash>'"


def _str_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise SSIError(f"parameter {name!r} must be a list of strings")
    return value


def _merge_params(old: Mapping[str, Any] | None, new: Any, n: int) -> dict[str, Any]:
    if not isinstance(new, dict):
        raise SSIError("parameters must be an object")
    unknown = set(new) - KNOWN_PARAMS
    if unknown:
        raise SSIError(f"unknown parameter(s) {sorted(unknown)}")
    merged = dict(old or {})
    for name, value in new.items():
        if name == "method":
            if value != METHOD:
                raise SSIError(f"unsupported method {value!r}, expected {METHOD!r}")
        elif name == "scid":
            if old is not None:
                raise SSIError("scid may only appear in the first entry")
            if not isinstance(value, str):
                raise SSIError("scid must be a string")
        elif name in ("updateKeys", "nextKeyHashes", "watchers"):
            if value is None and name != "updateKeys":
                value = []
            _str_list(value, name)
        elif name in ("portable", "deactivated"):
            if not isinstance(value, bool):
                raise SSIError(f"parameter {name!r} must be true or false")
            if name == "portable" and value and n != 1:
                raise SSIError("portable may only be set in the first entry")
        elif name == "witness":
            # §"Witnesses": unsupported here, so refuse instead of ignoring.
            if value not in (None, {}):
                raise SSIError("witness rules are not supported by this verifier")
        elif name == "ttl" and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise SSIError("ttl must be a positive integer")
        merged[name] = value
    if n == 1:
        for required in ("method", "scid", "updateKeys"):
            if required not in merged:
                raise SSIError(f"first entry must set {required!r}")
    if n == 1 and not merged["updateKeys"]:
        raise SSIError("first entry must list at least one update key")
    return merged


def _check_scid(entry: Mapping[str, Any], scid: str, simple: bool) -> None:
    """§"SCID Generation and Verification": rebuild the preliminary entry."""
    body = {k: v for k, v in entry.items() if k not in ("proof", "versionId")}
    text = json.dumps(body).replace(scid, SCID_PLACEHOLDER)
    prelim = json.loads(text)
    prelim["versionId"] = SCID_PLACEHOLDER
    if sha256_multihash_b58(jcs.canonicalize(prelim, simple=simple)) != scid:
        raise SSIError("SCID does not match the first entry")


def _active_keys(
    prev_params: Mapping[str, Any] | None, merged: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[str, ...]:
    if prev_params is None:
        return tuple(merged["updateKeys"])
    committed = prev_params.get("nextKeyHashes")
    if not committed:
        return tuple(prev_params.get("updateKeys") or ())
    # Pre-rotation is active: the new keys must be revealed and pre-committed.
    if "updateKeys" not in new:
        raise SSIError("pre-rotation is active: entry must list updateKeys")
    allowed = set(committed)
    for key in new["updateKeys"]:
        if next_key_hash(key) not in allowed:
            raise SSIError(f"update key {key} was not pre-committed in nextKeyHashes")
    return tuple(new["updateKeys"])


def _check_entry(
    prev_params: Mapping[str, Any] | None,
    prev: Version | None,
    entry: Any,
    n: int,
    latest: datetime,
    simple: bool,
) -> tuple[dict[str, Any], Version]:
    """Verify entry ``n`` given what entry ``n-1`` established; ``latest`` is the verifier's clock plus
    :data:`MAX_FUTURE_SKEW` (computed once per log).

    Returns the merged parameters and the new :class:`Version`; raises
    :class:`SSIError` with the reason on any failure.
    """
    if not isinstance(entry, dict):
        raise SSIError("log entry must be a JSON object")
    if entry.keys() != ENTRY_KEYS:
        raise SSIError(f"log entry must have exactly {sorted(ENTRY_KEYS)}")
    if prev_params is not None and prev_params.get("deactivated"):
        raise SSIError("DID is deactivated: no entry may follow")
    version_id = entry["versionId"]
    # "<n>-<hash>" with n this entry's position, by one string comparison: str(n) is the only spelling of n the
    # pattern's [1-9][0-9]* allows, and a hash with a character outside base58btc's never equals the computed one
    # (b58_spells below, before versionId is hashed). Any other versionId takes the pattern, which names the fault.
    number, _, entry_hash = version_id.partition("-") if isinstance(version_id, str) else ("", "", "")
    if number != str(n) or not entry_hash:
        m = _VERSION_RE.match(version_id) if isinstance(version_id, str) else None
        if not m:
            raise SSIError(_MALFORMED_VERSION_ID)
        raise SSIError(f"versionId number is {m.group(1)}, expected {n}")
    time_raw = entry["versionTime"]
    t = _parse_time(time_raw)
    if prev is not None and t <= prev.time:
        raise SSIError("versionTime is not after the previous entry's")
    if t > latest:
        raise SSIError("versionTime is more than 5 minutes in the future")

    new_params = entry["parameters"]
    if prev_params is not None and type(new_params) is dict and not new_params:
        # What _merge_params gives for an entry that changes no parameter (most do): the same parameters, shared
        # (never changed in place: each change is a new dict, and _apply hands out its own copy).
        merged = prev_params
    else:
        merged = _merge_params(prev_params, new_params, n)
    scid = merged["scid"]
    doc = entry["state"]
    if not isinstance(doc, dict):
        raise SSIError("state must be a DID document object")
    doc_id = doc.get("id")
    if type(doc_id) is str and prev is not None and doc_id == prev.did:
        did_text = doc_id  # the previous entry's DID, checked there against the same SCID (set once, in entry 1)
    else:
        try:
            did = parse_did(doc_id)
        except DIDError as exc:
            raise SSIError(f"state.id: {exc}") from None
        did_text = did.did
        if did_text != doc_id:
            raise SSIError("state.id is not in canonical did:webvh form")
        if did.scid != scid:
            raise SSIError("state.id does not carry the SCID")
        if prev is not None and did_text != prev.did and not (prev_params or {}).get("portable"):
            raise SSIError("DID changed but the DID is not portable")

    if n == 1:
        _check_scid(entry, scid, simple)
    # The entry hash (with the previous versionId) and the proof (with its own) hash the JCS of
    # {parameters, state, versionId, versionTime}, in that (RFC 8785) key order, differing only in versionId: the
    # common head is hashed once and the hash state copied, each part canonicalised once (bench/verify.py).
    # versionId and versionTime passed the patterns above (ASCII, no quote or backslash): JSON strings as they are.
    head = _sha256(
        b"".join(
            (
                b'{"parameters":',
                jcs.canonicalize(new_params, simple=simple) if new_params else b"{}",  # most entries change none
                b',"state":',
                jcs.canonicalize(doc, simple=simple),
                b',"versionId":',
            )
        )
    )
    tail = b"".join((b',"versionTime":"', time_raw.encode(), b'"}'))
    chained = head.copy()
    chained.update(_q(prev.version_id if prev else scid).encode() + tail)
    if not b58_spells(entry_hash, SHA2_256 + chained.digest()):
        if not _VERSION_RE.match(version_id):
            raise SSIError(_MALFORMED_VERSION_ID)
        raise SSIError("entry hash does not match versionId (entry altered or chain broken)")

    active = _active_keys(prev_params, merged, new_params)
    proofs = entry["proof"]
    if not isinstance(proofs, list) or not proofs:
        raise SSIError("proof must be a non-empty list")
    head.update(b"".join((b'"', version_id.encode(), b'"', tail)))
    document_digest = head.digest()
    signers = []
    for proof in proofs:
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if isinstance(vm, str) and vm.partition("#")[2] not in active:
            raise SSIError(f"proof key {vm} is not an authorised update key")
        # verify_proof spelled out (its default did:key resolution): one call fewer per entry.
        check_proof_shape(proof, expected_purpose="assertionMethod")
        key = proof_key(proof)
        verify_with_key(entry, proof, key, document_digest=document_digest, simple=simple)
        if key.multibase not in active:
            raise SSIError(f"proof key {key.multibase} is not an authorised update key")
        signers.append(key.multibase)

    update_keys = merged["updateKeys"]
    return merged, _version(
        {
            "number": n,
            "version_id": version_id,
            "time": t,
            "time_raw": time_raw,
            "did": did_text,
            "document": doc,
            "update_keys": tuple(update_keys) if update_keys else (),
            "deactivated": bool(merged.get("deactivated")),
            "signers": tuple(signers),
        }
    )


def _version(fields: dict[str, Any]) -> Version:
    """A :class:`Version` from all its fields, without the frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field: a tenth of the spec checks' time per entry, bench/verify.py). The caller
    passes every field, in a dict of its own, which becomes the instance's ``__dict__`` (one call, not a copy into
    the instance's own: a third less than ``__dict__.update``); the instance is as frozen as one ``__init__``
    makes."""
    version = _new_version(Version)
    _set_attribute(version, "__dict__", fields)
    return version


_new_version = object.__new__
_set_attribute = object.__setattr__


def _apply(prev: LogState | None, entry: Any, n: int, now: datetime, simple: bool) -> LogState:
    """Verify one entry on top of ``prev`` and return the new state."""
    latest = now + MAX_FUTURE_SKEW
    if prev is None:
        merged, version = _check_entry(None, None, entry, n, latest, simple)
        return LogState(scid=merged["scid"], params=merged, versions=(version,), entries=(entry,))
    merged, version = _check_entry(prev.params, prev.latest, entry, n, latest, simple)
    if merged is prev.params:
        merged = dict(merged)  # each state its own parameters, as before
    return replace(prev, params=merged, versions=(*prev.versions, version), entries=(*prev.entries, entry))


def _load_entry(line: Any, n: int) -> tuple[Any, bool]:
    if isinstance(line, (str, bytes)):
        try:
            return jcs.loads(line)
        except SSIError as exc:
            raise LogError(n, str(exc)) from None
    return line, False


def verify_log(
    lines: Iterable[str | bytes | Mapping[str, Any]],
    *,
    now: datetime | None = None,
    assume_simple: bool = False,
) -> LogState:
    """Verify a whole did:webvh log and return its final state.

    ``lines`` are JSON texts (one entry each; blank lines are skipped) or
    already-parsed entries. ``assume_simple`` says parsed entries came from
    :func:`ssi.jcs.loads` with ``simple=True``. Raises :class:`LogError`
    naming the first bad entry.
    """
    latest = (now or datetime.now(UTC)) + MAX_FUTURE_SKEW
    params: dict[str, Any] | None = None
    versions: list[Version] = []
    entries: list[dict[str, Any]] = []
    n = 0
    prev: Version | None = None
    for line in lines:
        if isinstance(line, (str, bytes)):
            if not line or line.isspace():  # blank, without copying the line
                continue
            n += 1
            try:  # _load_entry, spelled out: one call fewer per entry
                entry, simple = jcs.loads(line)
            except SSIError as exc:
                raise LogError(n, str(exc)) from None
        else:
            n += 1
            entry, simple = line, False
        try:
            params, version = _check_entry(params, prev, entry, n, latest, simple or assume_simple)
        except SSIError as exc:
            raise LogError(n, str(exc)) from None
        except _MALFORMED as exc:  # hostile shapes must fail as "bad entry n", never crash
            raise LogError(n, f"malformed entry ({type(exc).__name__}: {exc})") from None
        versions.append(version)
        entries.append(entry)
        prev = version
    if params is None:
        raise LogError(1, "the log is empty")
    return LogState(scid=params["scid"], params=params, versions=tuple(versions), entries=tuple(entries))


def verify_jsonl(text: str, *, now: datetime | None = None) -> LogState:
    """Verify did.jsonl text. Lines end at "\n" only: an entry may hold U+2028 or other characters str.splitlines
    would split at (JSON keeps them raw)."""
    return verify_log(text.split("\n"), now=now)


def append_entry(state: LogState, entry: Mapping[str, Any] | str, *, now: datetime | None = None) -> LogState:
    """Verify one more entry (e.g. one signed elsewhere) on top of ``state``."""
    n = state.version_number + 1
    parsed, simple = _load_entry(entry, n)
    try:
        return _apply(state, parsed, n, now or datetime.now(UTC), simple)
    except LogError:
        raise
    except SSIError as exc:
        raise LogError(n, str(exc)) from None
    except _MALFORMED as exc:
        raise LogError(n, f"malformed entry ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------------------
# Building


def format_time(t: datetime | str | None) -> str:
    """Normalise to ``YYYY-MM-DDTHH:MM:SSZ`` (seconds precision, UTC)."""
    if isinstance(t, str):
        _parse_time(t)
        return t
    t = (t or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return t.isoformat().replace("+00:00", "Z")


def _next_time(prev: LogState, t: datetime | str | None) -> str:
    if t is None:
        now = datetime.now(UTC).replace(microsecond=0)
        # Two updates within one second: step past the previous entry.
        t = max(now, prev.latest.time.replace(microsecond=0) + timedelta(seconds=1))
    return format_time(t)


def document_for(
    did: str,
    *,
    signing_keys: Sequence[VerifyKey | str] = (),
    agreement_keys: Sequence[str] = (),
    services: Sequence[Mapping[str, Any]] = (),
    also_known_as: Sequence[str] = (),
) -> dict[str, Any]:
    """A DID document with Multikey methods ``#key-N`` (signing) and ``#ka-N``.

    Signing keys serve authentication and assertionMethod; agreement keys
    (``z6LS…``) serve keyAgreement. Service ids are made absolute.
    """
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
    }
    vms: list[dict[str, Any]] = []
    sig_ids, ka_ids = [], []
    for i, k in enumerate(signing_keys, 1):
        mb = k if isinstance(k, str) else k.multibase
        vms.append({"id": f"{did}#key-{i}", "type": "Multikey", "controller": did, "publicKeyMultibase": mb})
        sig_ids.append(f"{did}#key-{i}")
    for i, mb in enumerate(agreement_keys, 1):
        vms.append({"id": f"{did}#ka-{i}", "type": "Multikey", "controller": did, "publicKeyMultibase": mb})
        ka_ids.append(f"{did}#ka-{i}")
    if vms:
        doc["verificationMethod"] = vms
    if sig_ids:
        doc["authentication"] = list(sig_ids)
        doc["assertionMethod"] = list(sig_ids)
    if ka_ids:
        doc["keyAgreement"] = ka_ids
    if services:
        doc["service"] = [
            {**s, "id": did + s["id"] if str(s.get("id", "")).startswith("#") else s["id"]} for s in services
        ]
    if also_known_as:
        doc["alsoKnownAs"] = list(also_known_as)
    return doc


def _sign_entry(entry: dict[str, Any], signer: SigningKey) -> dict[str, Any]:
    proof = create_proof(
        entry,
        signer,
        verification_method=key_url(signer.verify_key),
        created=entry["versionTime"],
        proof_purpose="assertionMethod",
    )
    return {**entry, "proof": [proof]}


def create(
    *,
    signer: SigningKey,
    domain: str,
    path: Sequence[str] = (),
    document: Mapping[str, Any] | None = None,
    update_keys: Sequence[str] | None = None,
    next_key_hashes: Sequence[str] | None = None,
    portable: bool = False,
    ttl: int | None = None,
    version_time: datetime | str | None = None,
    now: datetime | None = None,
) -> LogState:
    """Create a DID: build and sign entry 1.

    ``document`` is a template whose ``id`` (and any other DID references)
    use the literal ``{SCID}``, e.g. ``document_for(make_did(SCID_PLACEHOLDER,
    domain))``; by default a bare document. ``update_keys`` default to the
    signer's key, which must be among them.

    The entry is not verified again (SCID, entry hash, signature: a third of
    an inception's CPU, issue 16): each is what this function just computed.
    What could still make a resolver refuse it is checked instead (see
    :func:`_incepted`); the tests hold every created log to :func:`verify_log`
    and to the did-webvh resolver.
    """
    template_did = make_did(SCID_PLACEHOLDER, domain, path)
    doc = dict(document) if document is not None else document_for(template_did)
    if SCID_PLACEHOLDER not in str(doc.get("id")):
        raise SSIError("document id must contain the {SCID} placeholder")
    params: dict[str, Any] = {
        "method": METHOD,
        "scid": SCID_PLACEHOLDER,
        "updateKeys": list(update_keys) if update_keys is not None else [signer.multibase],
    }
    if portable:
        params["portable"] = True
    if next_key_hashes:
        params["nextKeyHashes"] = list(next_key_hashes)
    if ttl is not None:
        params["ttl"] = ttl
    prelim = {
        "versionId": SCID_PLACEHOLDER,
        "versionTime": format_time(version_time),
        "parameters": params,
        "state": doc,
    }
    scid = sha256_multihash_b58(jcs.canonicalize(prelim))
    entry = json.loads(json.dumps(prelim).replace(SCID_PLACEHOLDER, scid))
    entry_hash = sha256_multihash_b58(jcs.canonicalize(entry))
    entry["versionId"] = f"1-{entry_hash}"
    signed = _sign_entry(entry, signer)
    try:
        return _incepted(signed, signer, now or datetime.now(UTC))
    except SSIError as exc:
        raise LogError(1, str(exc)) from None
    except _MALFORMED as exc:  # a document no JSON/JCS round trip takes, as verify_log would say
        raise LogError(1, f"malformed entry ({type(exc).__name__}: {exc})") from None


def _incepted(entry: dict[str, Any], signer: SigningKey, now: datetime) -> LogState:
    """The state of a log whose first entry ``create`` has just built and signed with ``signer``: what
    :func:`verify_log` would return for it, without re-deriving the SCID and the entry hash or verifying the
    signature it made. The checks that do not follow from building it are made: the parameters (``ttl``, the
    keys' shape), the signer among the update keys, the time's form and skew, the document's DID (canonical
    did:webvh, carrying the SCID)."""
    merged = _merge_params(None, entry["parameters"], 1)
    if signer.multibase not in merged["updateKeys"]:
        raise SSIError(f"proof key {signer.multibase} is not an authorised update key")
    time_raw = entry["versionTime"]
    t = _parse_time(time_raw)
    if t > now + MAX_FUTURE_SKEW:
        raise SSIError("versionTime is more than 5 minutes in the future")
    doc = entry["state"]
    doc_id = doc.get("id")
    try:
        did = parse_did(doc_id)
    except DIDError as exc:
        raise SSIError(f"state.id: {exc}") from None
    if did.did != doc_id:
        raise SSIError("state.id is not in canonical did:webvh form")
    if did.scid != merged["scid"]:
        raise SSIError("state.id does not carry the SCID")
    update_keys = merged["updateKeys"]
    version = _version(
        {
            "number": 1,
            "version_id": entry["versionId"],
            "time": t,
            "time_raw": time_raw,
            "did": doc_id,
            "document": doc,
            "update_keys": tuple(update_keys),
            "deactivated": bool(merged.get("deactivated")),
            "signers": (signer.multibase,),
        }
    )
    return LogState(scid=merged["scid"], params=merged, versions=(version,), entries=(entry,))


def update(
    state: LogState,
    *,
    signer: SigningKey,
    document: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    version_time: datetime | str | None = None,
    now: datetime | None = None,
) -> LogState:
    """Append an entry changing the document and/or parameters.

    The result is verified exactly as :func:`verify_log` would, so a signer
    that is not authorised (or a pre-rotation violation) raises
    :class:`LogError` and nothing is appended.
    """
    entry = build_entry(state, document=document, params=params, version_time=version_time)
    return append_entry(state, _sign_entry(entry, signer), now=now)


def build_entry(
    state: LogState,
    *,
    document: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    version_time: datetime | str | None = None,
) -> dict[str, Any]:
    """The next entry, unsigned (``proof`` absent): for a self-held key.

    Sign it with ``python -m ssi.sign sign`` (or :func:`sign_entry`) and pass
    the result to :func:`append_entry`.
    """
    if state.deactivated:
        raise SSIError("DID is deactivated")
    return _unsigned_entry(
        state.version_id,
        _next_time(state, version_time),
        document if document is not None else state.document,
        params,
    )


def build_entries(state: LogState, steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Several successive unsigned entries, each step ``{"document"?, "params"?}``.

    The entry hash (and so the next ``versionId``) does not cover the proof,
    so a whole sequence can be prepared up front and signed in one go by a
    self-held key; :func:`append_entry` then verifies each in turn. Entries
    are one second apart (``versionTime`` has seconds precision and must
    strictly increase).
    """
    if state.deactivated:
        raise SSIError("DID is deactivated")
    entries: list[dict[str, Any]] = []
    version_id, document = state.version_id, state.document
    time = _parse_time(_next_time(state, None))
    for step in steps:
        document = step.get("document") if step.get("document") is not None else document
        entry = _unsigned_entry(version_id, format_time(time), document, step.get("params"))
        entries.append(entry)
        version_id = entry["versionId"]
        time += timedelta(seconds=1)
    return entries


def _unsigned_entry(
    prev_version_id: str, version_time: str, document: Mapping[str, Any], params: Mapping[str, Any] | None
) -> dict[str, Any]:
    entry = {
        "versionId": prev_version_id,
        "versionTime": version_time,
        "parameters": dict(params or {}),
        "state": json.loads(json.dumps(document)),
    }
    entry_hash = sha256_multihash_b58(jcs.canonicalize(entry))
    number = int(prev_version_id.split("-", 1)[0]) + 1
    entry["versionId"] = f"{number}-{entry_hash}"
    return entry


def sign_entry(entry: Mapping[str, Any], signer: SigningKey) -> dict[str, Any]:
    """Attach an eddsa-jcs-2022 proof (as a one-element list) to an entry."""
    return _sign_entry({k: v for k, v in entry.items() if k != "proof"}, signer)


def rotate(
    state: LogState,
    *,
    signer: SigningKey,
    update_keys: Sequence[str],
    next_key_hashes: Sequence[str] | None = None,
    document: Mapping[str, Any] | None = None,
    version_time: datetime | str | None = None,
    now: datetime | None = None,
) -> LogState:
    """Replace ``updateKeys`` (ownership transfer), optionally the document.

    Without pre-rotation ``signer`` must be a current update key; with it,
    ``signer`` must be one of the new, pre-committed keys. ``next_key_hashes``
    (see :func:`next_key_hash`) commits to the following keys; ``[]`` ends
    pre-rotation.
    """
    params: dict[str, Any] = {"updateKeys": list(update_keys)}
    if next_key_hashes is not None:
        params["nextKeyHashes"] = list(next_key_hashes)
    return update(state, signer=signer, document=document, params=params, version_time=version_time, now=now)


def deactivate(
    state: LogState,
    *,
    signer: SigningKey,
    version_time: datetime | str | None = None,
    now: datetime | None = None,
) -> LogState:
    """Deactivate the DID (§"Deactivate (Revoke)"); no entry may follow.

    Without pre-rotation the entry sets ``updateKeys: []``. With pre-rotation
    the spec requires the new entry to reveal pre-committed keys, so the
    signer (a pre-committed key) is revealed and ``nextKeyHashes`` cleared.
    """
    if state.next_key_hashes:
        params = {"updateKeys": [signer.multibase], "nextKeyHashes": [], "deactivated": True}
    else:
        params = {"updateKeys": [], "deactivated": True}
    return update(state, signer=signer, params=params, version_time=version_time, now=now)


def _replace_did(obj: Any, old: str, new: str) -> Any:
    # Only whole DIDs (optionally followed by a fragment/query/path), never a
    # longer DID that merely starts with the same characters.
    pattern = re.compile(re.escape(old) + r"(?![A-Za-z0-9._~%:-])")
    return json.loads(pattern.sub(new, json.dumps(obj)))


def move(
    state: LogState,
    *,
    signer: SigningKey,
    domain: str,
    path: Sequence[str] = (),
    version_time: datetime | str | None = None,
    now: datetime | None = None,
) -> LogState:
    """Move a portable DID to a new domain/path; the SCID stays (§"DID Portability").

    Every reference to the old DID in the document is rewritten and the old
    DID is added to ``alsoKnownAs``, as the spec recommends.
    """
    if not state.portable:
        raise SSIError("DID is not portable")
    new_did = make_did(state.scid, domain, path)
    doc = _replace_did(state.document, state.did, new_did)
    aka = [a for a in doc.get("alsoKnownAs", []) if a != new_did]
    if state.did not in aka:
        aka.append(state.did)
    doc["alsoKnownAs"] = aka
    return update(state, signer=signer, document=doc, version_time=version_time, now=now)


# ---------------------------------------------------------------------------
# Reading


def find_version(
    state: LogState,
    *,
    version_id: str | None = None,
    version_number: int | None = None,
    version_time: datetime | str | None = None,
) -> Version:
    """The version a ``?versionId=``/``versionNumber``/``versionTime`` query names."""
    if version_id is not None:
        for v in state.versions:
            if v.version_id == version_id:
                return v
        raise DIDError(f"no version {version_id}")
    if version_number is not None:
        if 1 <= version_number <= len(state.versions):
            return state.versions[version_number - 1]
        raise DIDError(f"no version number {version_number}")
    if version_time is not None:
        t = _parse_time(version_time) if isinstance(version_time, str) else version_time
        found = [v for v in state.versions if v.time <= t]
        if not found:
            raise DIDError("DID did not exist at that time")
        return found[-1]
    return state.latest


def web_did(did: str) -> str:
    """The parallel did:web DID: ``did:webvh:{SCID}:rest`` → ``did:web:rest``.

    Listing it in ``alsoKnownAs`` is optional (pass it to :func:`document_for`).
    """
    w = parse_did(did)
    return "did:web:" + w.did.split(":", 3)[3]


def did_web_document(state: LogState, *, version: Version | None = None) -> dict[str, Any]:
    """The parallel did:web document (§"Publishing a Parallel did:web DID").

    Every ``did:webvh:{SCID}:`` prefix becomes ``did:web:``; the did:webvh DID
    is added to ``alsoKnownAs``.
    """
    v = version or state.latest
    text = json.dumps(v.document).replace(f"{PREFIX}{state.scid}:", "did:web:")
    doc = json.loads(text)
    aka = doc.get("alsoKnownAs") or []
    if v.did not in aka:
        aka.append(v.did)
    doc["alsoKnownAs"] = aka
    return doc


def assertion_keys(document: Mapping[str, Any]) -> tuple[str, ...]:
    """Multikeys of the document's assertionMethod (embedded or by reference)."""
    by_id: dict[str, str] = {}
    did = document.get("id", "")
    for vm in document.get("verificationMethod") or ():
        if isinstance(vm, dict) and isinstance(vm.get("publicKeyMultibase"), str):
            vid = str(vm.get("id", ""))
            by_id[did + vid if vid.startswith("#") else vid] = vm["publicKeyMultibase"]
    out: list[str] = []
    for ref in document.get("assertionMethod") or ():
        if isinstance(ref, dict):
            mb = ref.get("publicKeyMultibase")
        else:
            ref = str(ref)
            mb = by_id.get(did + ref if ref.startswith("#") else ref)
        if isinstance(mb, str) and mb.startswith("z6Mk"):
            out.append(mb)
    return tuple(out)


def files_base_url(did: str) -> str:
    """Base URL for ``#files`` (§"DID Document Implicit Services").

    Unlike the log location, a DID without a path maps to the domain root.
    """
    w = parse_did(did)
    host = w.host + (f":{w.port}" if w.port else "")
    return "/".join((f"https://{host}", *w.path, ""))


def resolve_document(state: LogState, *, version: Version | None = None) -> dict[str, Any]:
    """The resolved DID document: the entry's state plus the implicit services.

    §"DID Document Implicit Services": unless the document defines them, a
    resolver adds ``#files`` (relativeRef to the DID's base URL) and
    ``#whois`` (LinkedVerifiablePresentation at ``whois.vp``).
    """
    v = version or state.latest
    doc = json.loads(json.dumps(v.document))
    services = list(doc.get("service") or [])
    present = {str(s.get("id")) for s in services if isinstance(s, dict)}
    base = files_base_url(v.did)
    if "#files" not in present and f"{v.did}#files" not in present:
        services.append({"id": f"{v.did}#files", "type": "relativeRef", "serviceEndpoint": base})
    if "#whois" not in present and f"{v.did}#whois" not in present:
        services.append(
            {
                "@context": "https://identity.foundation/linked-vp/contexts/v1",
                "id": f"{v.did}#whois",
                "type": "LinkedVerifiablePresentation",
                "serviceEndpoint": base + "whois.vp",
            }
        )
    doc["service"] = services
    return doc
