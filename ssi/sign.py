"""``python -m ssi.sign``: for an owner who holds their own key.

Commands::

    python -m ssi.sign keygen KEYFILE          # new key; prints its public Multikey
    python -m ssi.sign pubkey KEYFILE          # prints the public Multikey again
    python -m ssi.sign nexthash KEYFILE        # pre-rotation commitment (nextKeyHashes) to this key
    python -m ssi.sign thingkey KEYFILE DID [--write FILE]
                                               # your key for one thing: its public key and its hash
    python -m ssi.sign sign KEYFILE [JSON]     # eddsa-jcs-2022 proof for a JSON document
    python -m ssi.sign present KEYFILE CRED.json... --challenge C --domain D [--holder DID]
                                               # a presentation for the verifier that gave C and D

KEYFILE holds one line: the Ed25519 private key as an ed25519-priv Multikey
(``z3u2…``, the encoding of the W3C test vectors). It is created with mode
0600 and never overwritten.

``sign`` reads the document from JSON (a file, or stdin when omitted or
``-``), for example the unsigned did:webvh entry the server shows you
(``ssi.webvh.build_entry``), and prints the proof object. With ``--attach``
it prints the document with the proof appended to its ``proof`` list, which
is what a did:webvh log line looks like. The server verifies the result with
the same code as every other entry.

``thingkey`` derives the key your KEYFILE stands for in one thing's DID log (ssi.thing_keys: HKDF-SHA256 of
the key and the path of the thing's DID). A thing's log names, for its owner, the key derived from the owner's current
key (``updateKeys``) and commits to the hash of the one derived from the next key (``nextKeyHashes``), so two
things of one owner share no key. It prints the derived public key (compare it with the log's ``updateKeys``)
and its pre-rotation hash (compare it with ``nextKeyHashes``); ``--write FILE`` saves the derived private key, to
sign that thing's entries or an acceptance with ``sign``. DID is the thing's did:webvh DID (any it has had).

``present`` wraps credentials in a verifiable presentation signed by the key (proof purpose
``authentication``) for one verifier's challenge and domain, as a verifier's page asks; the holder is the key's
did:key unless ``--holder`` names the DID the credentials were issued to (then the key must be that DID's
``#key-1``, or give ``--verification-method``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ssi.errors import SSIError
from ssi.keys import SigningKey
from ssi.proofs import create_proof


def write_key(path: Path, key: SigningKey) -> None:
    """Write ``key`` to a new file readable only by its owner."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.private_multibase() + "\n")


def read_key(path: Path) -> SigningKey:
    return SigningKey.from_multibase(path.read_text(encoding="ascii").strip())


def sign_json(
    document: dict[str, Any],
    key: SigningKey,
    *,
    attach: bool = False,
    purpose: str = "assertionMethod",
    created: str | None = None,
    verification_method: str | None = None,
) -> dict[str, Any]:
    """The proof for ``document`` (or, with ``attach``, the signed document)."""
    proof = create_proof(
        document,
        key,
        proof_purpose=purpose,
        created=created or document.get("versionTime"),
        verification_method=verification_method,
    )
    if not attach:
        return proof
    existing = document.get("proof", [])
    proofs = existing if isinstance(existing, list) else [existing]
    return {**document, "proof": [*proofs, proof]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssi.sign", description="Sign with a self-held key.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("keygen", help="create a new key file")
    p.add_argument("keyfile", type=Path)
    p = sub.add_parser("pubkey", help="print the public key of a key file")
    p.add_argument("keyfile", type=Path)
    p = sub.add_parser("nexthash", help="print the pre-rotation hash (nextKeyHashes entry) of a key file")
    p.add_argument("keyfile", type=Path)
    p = sub.add_parser(
        "thingkey",
        help="derive your key for one thing (its DID): prints the public key and its nextKeyHashes entry",
    )
    p.add_argument("keyfile", type=Path)
    p.add_argument("did", help="the thing's did:webvh DID")
    p.add_argument("--write", type=Path, help="also save the derived private key to this new file")
    p = sub.add_parser("sign", help="sign a JSON document (or a list of them) with eddsa-jcs-2022")
    p.add_argument("keyfile", type=Path)
    p.add_argument("document", nargs="?", default="-")
    p.add_argument("--attach", action="store_true", help="print the document with the proof attached")
    p.add_argument("--purpose", default="assertionMethod")
    p.add_argument("--created", help="proof time (default: the entry's versionTime, else now)")
    p.add_argument("--verification-method", help="default: the key's did:key URL")
    p = sub.add_parser(
        "present", help="present credentials to a verifier: a presentation signed for its challenge and domain"
    )
    p.add_argument("keyfile", type=Path)
    p.add_argument("credentials", nargs="+", type=Path, help="credential files (JSON)")
    p.add_argument("--challenge", required=True, help="the challenge the verifier gave you")
    p.add_argument("--domain", required=True, help="the verifier's domain, as it gave it")
    p.add_argument("--holder", help="your DID (default: the key's did:key)")
    p.add_argument("--verification-method", help="default: the key's did:key URL, or HOLDER#key-1 with --holder")
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            key = SigningKey.generate()
            write_key(args.keyfile, key)
            print(key.multibase)
            return 0
        key = read_key(args.keyfile)
        if args.command == "pubkey":
            print(key.multibase)
            return 0
        if args.command == "nexthash":
            from ssi.webvh import next_key_hash

            print(next_key_hash(key.multibase))
            return 0
        if args.command == "thingkey":
            from ssi.thing_keys import thing_key
            from ssi.webvh import next_key_hash

            derived = thing_key(key, args.did)
            if args.write is not None:
                try:
                    write_key(args.write, derived)
                except FileExistsError:
                    print(f"error: {args.write} exists; not overwriting a key", file=sys.stderr)
                    return 1
            print(derived.multibase)
            print(next_key_hash(derived.multibase))
            return 0
        if args.command == "present":
            from ssi.credentials import present

            creds = [json.loads(path.read_text(encoding="utf-8")) for path in args.credentials]
            if not all(isinstance(c, dict) for c in creds):
                raise SSIError("each credential file must hold one JSON object")
            method = args.verification_method or (f"{args.holder}#key-1" if args.holder else None)
            vp = present(
                creds, key, challenge=args.challenge, domain=args.domain, holder=args.holder, verification_method=method
            )
            print(json.dumps(vp, ensure_ascii=False))
            return 0
        text = sys.stdin.read() if args.document == "-" else Path(args.document).read_text(encoding="utf-8")
        document = json.loads(text)
        # A list (several did:webvh entries prepared at once, e.g. a transfer) is signed element by element.
        documents = document if isinstance(document, list) else [document]
        if not documents or not all(isinstance(d, dict) for d in documents):
            raise SSIError("the document must be a JSON object or a list of objects")
        results = [
            sign_json(
                d,
                key,
                attach=args.attach,
                purpose=args.purpose,
                created=args.created,
                verification_method=args.verification_method,
            )
            for d in documents
        ]
        print(json.dumps(results if isinstance(document, list) else results[0], ensure_ascii=False))
        return 0
    except FileExistsError:
        print(f"error: {args.keyfile} exists; not overwriting a key", file=sys.stderr)
    except (OSError, ValueError) as exc:  # SSIError and JSON errors are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
