"""Firmware manifests signed by their maker, and the one check a thing (or its twin) runs before an update.

A manifest is a small JSON object (SUIT-like, RFC 9124's fields in plain JSON)::

    {"type": "FirmwareManifest", "vendor_id": "did:webvh:…", "class_id": "<model>", "version": "1.4.0",
     "sequence": 7, "size": 1048576, "sha256": "<hex>", "payload": "<URL or file name>", "created": "…Z",
     "proof": [<eddsa-jcs-2022 DataIntegrityProof>, …]}

Each proof signs the manifest without ``proof`` on its own (a proof *set*, not a chain), so co-signers sign
in any order and a signature can be added later without touching the others.

Who may sign (checked by :func:`verify`, one :class:`Reason` for each refusal):

- **The maker, now.** At least one proof must be by a key the maker's DID log authorises at verification
  time: its current ``updateKeys`` (the organisation's controller key, which the maker rotates) or an
  ``assertionMethod`` key of its current DID document. What the manifest's ``created`` claims does not matter:
  a key rotated out of the log is refused whatever the date (SECURITY 34).
- **Every proof counts or the manifest is refused.** A proof by a key that is neither the maker's (now) nor a
  listed release officer is refused (a rotated-out maker key among other valid proofs still refuses the
  manifest: a thing trusts nothing its maker no longer stands behind).
- **Critical models: k of n release officers** as well as the maker. The officers' keys and k are the
  device's (or its twin's) pinned :class:`Policy` for the model, never taken from the manifest, so a
  compromised maker key alone cannot lower the bar. The same key twice (under two URLs, or twice) is refused.

Then the sequence must exceed the last accepted one (no rollback), and the payload must match ``size`` and
``sha256``. The checks run in a fixed order, so each bad manifest has exactly one reason.

``python -m ssi.firmware verify|sign`` is the offline tool (see :func:`main`). Pure: this package and PyNaCl.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from ssi import jcs, proofs, webvh
from ssi.credentials import method_key
from ssi.errors import SSIError
from ssi.keys import SigningKey, VerifyKey

MANIFEST_TYPE = "FirmwareManifest"
PURPOSE = "assertionMethod"
CHUNK = 1 << 16
MAX_VERSION = 64
MAX_CLASS_ID = 200
_HEX64 = re.compile(r"[0-9a-f]{64}")
FIELDS = ("type", "vendor_id", "class_id", "version", "sequence", "size", "sha256", "payload", "created")


class Reason(StrEnum):
    """Why a manifest is refused: one per check, stable (logged, shown, tested)."""

    MALFORMED = "malformed"
    VENDOR_MISMATCH = "vendor-mismatch"
    MODEL_MISMATCH = "model-mismatch"
    ROLLBACK = "rollback"
    BAD_SIGNATURE = "bad-signature"
    DUPLICATE_SIGNER = "duplicate-signer"
    UNAUTHORISED_KEY = "unauthorised-key"
    NO_MAKER_SIGNATURE = "no-maker-signature"
    THRESHOLD_NOT_MET = "threshold-not-met"
    SIZE_MISMATCH = "size-mismatch"
    HASH_MISMATCH = "hash-mismatch"
    DEACTIVATED = "maker-deactivated"


class Refused(SSIError):
    """The manifest (or its payload) must not be installed; ``reason`` says which check failed."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def line(self) -> str:
        return f"REFUSED ({self.reason}): {self.message}"


@dataclass(frozen=True)
class Policy:
    """A model's signing rule: ``threshold`` distinct ``officers`` (Ed25519 Multikeys) besides the maker.
    ``threshold == 0``: the maker's signature alone (a model that is not critical)."""

    threshold: int = 0
    officers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, int) or self.threshold < 0:
            raise SSIError("threshold must be a whole number ≥ 0")
        if self.threshold > len(set(self.officers)):
            raise SSIError(f"threshold {self.threshold} exceeds the {len(set(self.officers))} listed officer keys")
        for key in self.officers:
            VerifyKey.from_multibase(key)  # KeyError_ (an SSIError) for anything but an Ed25519 Multikey

    @classmethod
    def from_json(cls, data: Any) -> Policy:
        if not isinstance(data, dict):
            raise SSIError("a policy is a JSON object {threshold, officers}")
        officers = data.get("officers", [])
        if not isinstance(officers, list) or not all(isinstance(k, str) for k in officers):
            raise SSIError("officers must be a list of Ed25519 Multikeys (z6Mk…)")
        return cls(threshold=data.get("threshold", 0), officers=tuple(officers))

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "officers": list(self.officers)}


@dataclass(frozen=True)
class Digest:
    """What a payload is: its SHA-256 (hex) and its size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True)
class Accepted:
    manifest: dict[str, Any]
    sequence: int
    version: str
    maker_keys: tuple[str, ...]
    officer_keys: tuple[str, ...] = field(default=())

    def line(self) -> str:
        officers = f", {len(self.officer_keys)} release officer(s)" if self.officer_keys else ""
        return (
            f"OK: {self.manifest['class_id']} {self.version} (sequence {self.sequence}), "
            f"signed by the maker's current key {', '.join(self.maker_keys)}{officers}"
        )


# --- Payloads ------------------------------------------------------------------------------------------------


class Hasher:
    """SHA-256 and size of a payload fed chunk by chunk (an upload, a file): never the whole in memory."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._h.update(chunk)
        self.size += len(chunk)

    def digest(self) -> Digest:
        return Digest(self._h.hexdigest(), self.size)


def digest_stream(stream: BinaryIO | Iterable[bytes]) -> Digest:
    h = Hasher()
    if hasattr(stream, "read"):
        while chunk := stream.read(CHUNK):  # type: ignore[union-attr]
            h.update(chunk)
    else:
        for chunk in stream:
            h.update(chunk)
    return h.digest()


def digest_of(payload: bytes | Digest) -> Digest:
    if isinstance(payload, Digest):
        return payload
    return Digest(hashlib.sha256(payload).hexdigest(), len(payload))


def check_payload(manifest: Mapping[str, Any], payload: bytes | Digest) -> None:
    """Refuse a payload that is not the one the manifest names (SECURITY 36): size first, then SHA-256."""
    d = digest_of(payload)
    if d.size != manifest.get("size"):
        raise Refused(Reason.SIZE_MISMATCH, f"the payload is {d.size} bytes; the manifest says {manifest.get('size')}")
    if d.sha256 != manifest.get("sha256"):
        raise Refused(Reason.HASH_MISMATCH, "the payload's SHA-256 differs from the manifest's")


# --- Building and signing ------------------------------------------------------------------------------------


def build(
    *,
    vendor_id: str,
    class_id: str,
    version: str,
    sequence: int,
    payload: bytes | Digest,
    payload_ref: str,
    created: str | None = None,
) -> dict[str, Any]:
    """An unsigned manifest for ``payload`` (bytes, or the :class:`Digest` of a streamed upload)."""
    d = digest_of(payload)
    manifest = {
        "type": MANIFEST_TYPE,
        "vendor_id": vendor_id,
        "class_id": class_id,
        "version": version,
        "sequence": sequence,
        "size": d.size,
        "sha256": d.sha256,
        "payload": payload_ref,
        "created": created or proofs.now_iso(),
    }
    check_shape(manifest)
    return manifest


def sign(
    manifest: Mapping[str, Any],
    key: SigningKey,
    *,
    verification_method: str | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """The manifest with one more proof by ``key`` (a co-signature when it has proofs already). The proof signs
    the manifest without its proofs, so the signers' order does not matter. ``created`` (default now): the
    proof's time; Ed25519 is deterministic, so a fixed time makes the same proof every time."""
    check_shape(manifest)
    unsigned = {k: v for k, v in manifest.items() if k != "proof"}
    proof = proofs.create_proof(
        unsigned, key, verification_method=verification_method, proof_purpose=PURPOSE, created=created
    )
    return {**unsigned, "proof": [*proof_list(manifest), proof]}


def proof_list(manifest: Mapping[str, Any]) -> list[Any]:
    raw = manifest.get("proof")
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list) else [raw]


def without_proofs_by(manifest: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The manifest less the proofs made by ``keys`` (Multikeys): how a maker drops a rotated-out key's proof
    before re-attesting a release with its current key."""
    drop = set(keys)
    kept = []
    for p in proof_list(manifest):
        try:
            if proofs.proof_key(p).multibase in drop:
                continue
        except SSIError:
            pass
        kept.append(p)
    return {**manifest, "proof": kept}


# --- Verifying -----------------------------------------------------------------------------------------------


# The largest integer every JSON reader keeps exactly (RFC 8785 writes numbers as IEEE doubles).
MAX_SAFE_INTEGER = 2**53 - 1


def check_shape(manifest: Any) -> None:
    """Refuse (MALFORMED) anything but a manifest with every field of the right type."""
    if not isinstance(manifest, Mapping):
        raise Refused(Reason.MALFORMED, "a manifest is a JSON object")
    missing = [f for f in FIELDS if f not in manifest]
    if missing:
        raise Refused(Reason.MALFORMED, f"the manifest lacks {', '.join(missing)}")
    if manifest["type"] != MANIFEST_TYPE:
        raise Refused(Reason.MALFORMED, f"type must be {MANIFEST_TYPE!r}")
    for name in ("vendor_id", "class_id", "version", "payload", "created"):
        if not isinstance(manifest[name], str) or not manifest[name]:
            raise Refused(Reason.MALFORMED, f"{name} must be a non-empty string")
    if len(manifest["version"]) > MAX_VERSION or len(manifest["class_id"]) > MAX_CLASS_ID:
        raise Refused(Reason.MALFORMED, "version or class_id is too long")
    for name in ("sequence", "size"):
        value = manifest[name]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SAFE_INTEGER:
            raise Refused(Reason.MALFORMED, f"{name} must be a whole number from 0 to 2^53 - 1")
    if not isinstance(manifest["sha256"], str) or not _HEX64.fullmatch(manifest["sha256"]):
        raise Refused(Reason.MALFORMED, "sha256 must be 64 lower-case hex digits")
    try:  # what is signed is the canonical form: a value JCS cannot write (1e400, 2^64) cannot have been signed
        jcs.canonicalize({k: v for k, v in manifest.items() if k != "proof"})
    except SSIError as exc:
        raise Refused(Reason.MALFORMED, f"the manifest cannot be canonicalised: {exc}") from None


def maker_keys_now(maker: webvh.LogState) -> frozenset[str]:
    """The keys the maker's DID log authorises now: current updateKeys and the current document's
    assertionMethod keys. None once the DID is deactivated."""
    if maker.deactivated:
        return frozenset()
    return frozenset(maker.update_keys) | frozenset(webvh.assertion_keys(maker.document))


def _proof_signer(proof: Any, maker: webvh.LogState) -> VerifyKey:
    """The key a proof names: a did:key URL, or a DID URL of the maker's current DID (its assertionMethod)."""
    proofs.check_proof_shape(proof, expected_purpose=PURPOSE)
    vm = proof["verificationMethod"]
    if vm.startswith("did:key:"):
        return proofs.proof_key(proof)
    did, sep, _ = vm.partition("#")
    if sep and did == maker.did:
        return method_key(maker.document, vm, PURPOSE)
    raise Refused(Reason.UNAUTHORISED_KEY, f"{vm} is not a key of the maker's current DID document")


def verify(
    manifest: Any,
    payload: bytes | Digest | None,
    *,
    maker: webvh.LogState,
    class_id: str | None,
    last_sequence: int | None,
    policy: Policy | None = None,
) -> Accepted:
    """Accept ``manifest`` (and ``payload``, unless None: a caller that checks the payload later, as it
    streams) or raise :class:`Refused` with the first failing check's reason.

    ``maker`` is the manufacturer's verified DID log as known now; ``class_id`` the model the thing is
    (None: not checked); ``last_sequence`` the highest sequence the thing accepted (None: none yet).
    """
    check_shape(manifest)
    policy = policy or Policy()
    try:
        vendor_scid = webvh.parse_did(manifest["vendor_id"]).scid
    except SSIError:
        raise Refused(Reason.VENDOR_MISMATCH, f"vendor_id {manifest['vendor_id']!r} is not a did:webvh DID") from None
    if vendor_scid != maker.scid:
        raise Refused(Reason.VENDOR_MISMATCH, f"vendor_id {manifest['vendor_id']} is not the maker {maker.did}")
    if maker.deactivated:
        raise Refused(Reason.DEACTIVATED, f"the maker's DID {maker.did} is deactivated")
    if class_id is not None and manifest["class_id"] != class_id:
        raise Refused(Reason.MODEL_MISMATCH, f"the manifest is for model {manifest['class_id']!r}, not {class_id!r}")
    if last_sequence is not None and manifest["sequence"] <= last_sequence:
        raise Refused(
            Reason.ROLLBACK,
            f"sequence {manifest['sequence']} is not above the last accepted {last_sequence} (rollback)",
        )
    items = proof_list(manifest)
    if not items:
        raise Refused(Reason.NO_MAKER_SIGNATURE, "the manifest carries no signature")
    canonical = jcs.canonicalize({k: v for k, v in manifest.items() if k != "proof"})
    seen: set[str] = set()
    signers: list[str] = []
    for i, proof in enumerate(items, 1):
        try:
            key = _proof_signer(proof, maker)
            proofs.verify_with_key(manifest, proof, key, canonical_document=canonical)
        except Refused:
            raise
        except SSIError as exc:
            raise Refused(Reason.BAD_SIGNATURE, f"signature {i} does not verify: {exc}") from None
        if key.multibase in seen:
            raise Refused(
                Reason.DUPLICATE_SIGNER, f"signature {i} is by {key.multibase} again: each signer counts once"
            )
        seen.add(key.multibase)
        signers.append(key.multibase)
    now = maker_keys_now(maker)
    officers = set(policy.officers)
    for key in signers:
        if key not in now and key not in officers:
            raise Refused(
                Reason.UNAUTHORISED_KEY,
                f"{key} is not authorised by the maker's DID log now (rotated out, or never the maker's)",
            )
    maker_signed = tuple(k for k in signers if k in now)
    if not maker_signed:
        raise Refused(Reason.NO_MAKER_SIGNATURE, "no signature is by a key the maker's DID log authorises now")
    # A maker key listed as an officer does not count as one: its signature is the maker's (the platform makes it
    # unattended), and k-of-n asks for k people besides.
    officer_signed = tuple(k for k in signers if k in officers and k not in now)
    if len(officer_signed) < policy.threshold:
        raise Refused(
            Reason.THRESHOLD_NOT_MET,
            f"{len(officer_signed)} of the {policy.threshold} release-officer signatures this model needs",
        )
    if payload is not None:
        check_payload(manifest, payload)
    return Accepted(dict(manifest), manifest["sequence"], manifest["version"], maker_signed, officer_signed)


# --- The command line ----------------------------------------------------------------------------------------

EXIT_OK, EXIT_REFUSED, EXIT_UNREADABLE, EXIT_CANNOT_CHECK = 0, 1, 2, 3

USAGE = """\
python -m ssi.firmware verify MANIFEST PAYLOAD --maker DID_LOG [--last-sequence N] [--model CLASS_ID]
                              [--policy POLICY.json]
python -m ssi.firmware sign KEYFILE --payload FILE --vendor DID --model CLASS_ID --version V --sequence N
                            [--ref URL_OR_NAME] [--verification-method URL]      # a new manifest
python -m ssi.firmware sign KEYFILE --manifest MANIFEST                            # add a co-signature

verify exits 0 (accepted), 1 (refused: one line with the reason), 2 (a file cannot be read),
3 (cannot check: the DID log or the policy is not valid). KEYFILE: one line, the Ed25519 private key as an
ed25519-priv Multikey (z3u2…), as `python -m ssi.sign keygen` writes it. POLICY.json: {"threshold": k,
"officers": ["z6Mk…", …]} for a critical model.
"""


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _verify_cmd(args: argparse.Namespace) -> int:
    try:
        manifest = _read_json(args.manifest)
        with args.payload.open("rb") as f:
            digest = digest_stream(f)
        log_text = args.maker.read_text(encoding="utf-8")
        policy_data = _read_json(args.policy) if args.policy else None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"FAIL: cannot read: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        if not log_text.strip():
            raise SSIError("the DID log is empty")
        maker = webvh.verify_jsonl(log_text)
        policy = Policy.from_json(policy_data) if policy_data is not None else None
    except SSIError as exc:
        print(f"CANNOT CHECK: {exc}")
        return EXIT_CANNOT_CHECK
    try:
        accepted = verify(
            manifest, digest, maker=maker, class_id=args.model, last_sequence=args.last_sequence, policy=policy
        )
    except Refused as exc:
        print(exc.line())
        return EXIT_REFUSED
    print(accepted.line() + ("" if args.model else " (model not checked: give --model)"))
    return EXIT_OK


def _sign_cmd(args: argparse.Namespace) -> int:
    from ssi.sign import read_key

    try:
        key = read_key(args.keyfile)
        if args.manifest:
            manifest = _read_json(args.manifest)
        else:
            missing = [n for n in ("payload", "vendor", "model", "version", "sequence") if getattr(args, n) is None]
            if missing:
                print(f"error: a new manifest needs --{', --'.join(missing)}", file=sys.stderr)
                return EXIT_REFUSED
            with args.payload.open("rb") as f:
                digest = digest_stream(f)
            manifest = build(
                vendor_id=args.vendor,
                class_id=args.model,
                version=args.version,
                sequence=args.sequence,
                payload=digest,
                payload_ref=args.ref or args.payload.name,
            )
        print(json.dumps(sign(manifest, key, verification_method=args.verification_method), ensure_ascii=False))
        return EXIT_OK
    except Refused as exc:
        print(f"error: {exc.message}", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    return EXIT_REFUSED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssi.firmware", usage=USAGE, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="check a manifest and its payload offline")
    v.add_argument("manifest", type=Path)
    v.add_argument("payload", type=Path)
    v.add_argument("--maker", type=Path, required=True, help="the maker's did.jsonl")
    v.add_argument("--last-sequence", type=int, default=None, help="the highest sequence this thing accepted")
    v.add_argument("--model", default=None, help="this thing's model (class_id)")
    v.add_argument("--policy", type=Path, default=None, help="a critical model's k-of-n officer policy (JSON)")
    s = sub.add_parser("sign", help="make a signed manifest, or add a co-signature to one")
    s.add_argument("keyfile", type=Path)
    s.add_argument("--manifest", type=Path, help="an existing manifest: add a co-signature")
    s.add_argument("--payload", type=Path)
    s.add_argument("--vendor", help="the maker's DID")
    s.add_argument("--model", help="the model's class_id")
    s.add_argument("--version")
    s.add_argument("--sequence", type=int)
    s.add_argument("--ref", help="the payload's URL or name (default: the file's name)")
    s.add_argument("--verification-method", help="default: the key's did:key URL")
    args = parser.parse_args(argv)
    return _verify_cmd(args) if args.command == "verify" else _sign_cmd(args)


if __name__ == "__main__":
    sys.exit(main())
