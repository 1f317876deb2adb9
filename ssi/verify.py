"""``python -m ssi.verify FILE``: verify a twin, a credential or a presentation offline.

FILE is a twin bundle (see :mod:`ssi.bundle`), a bare ``did.jsonl``, a W3C
verifiable credential or a verifiable presentation (see :mod:`ssi.credentials`).
Prints ``OK: …`` and exits 0, or ``FAIL: …`` and exits 1; 3 when the file cannot
be checked with what was given (a DID log or a status list is missing), 2 for an
unreadable file. Needs only this package and PyNaCl; no network.

Credentials and presentations: ``--did-log did.jsonl`` resolves did:webvh keys
from a local log (repeatable), ``--status-list list.json`` supplies a status list
credential (repeatable), ``--challenge`` and ``--domain`` are what the verifier
asked a presentation to carry; ``--now`` checks at another time (RFC 3339).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from ssi import credentials, jcs, webvh
from ssi.bundle import BundleError, verify_bundle
from ssi.errors import LogError, SSIError

EXIT_OK, EXIT_FAIL, EXIT_UNREADABLE, EXIT_CANNOT_CHECK = 0, 1, 2, 3


def verify_text(text: str) -> str:
    """Verify bundle or did.jsonl text; return the OK line or raise SSIError."""
    try:
        parsed, _ = jcs.loads(text)
    except SSIError:
        parsed = None  # several lines: a did.jsonl
    if isinstance(parsed, dict) and "did_log" in parsed:
        return verify_bundle(text).summary()
    try:
        state = webvh.verify_jsonl(text)
    except LogError as exc:
        raise BundleError(f"did_log entry {exc.version}", exc.reason) from None
    owner = ", ".join(state.update_keys) or "none (deactivated)"
    return f"OK: did log {state.version_number} versions, {state.did}, owner key {owner}"


def kind_of(text: str) -> str:
    """``bundle``, ``credential``, ``presentation`` or ``did.jsonl``."""
    try:
        parsed, _ = jcs.loads(text)
    except SSIError:
        return "did.jsonl"
    if isinstance(parsed, dict):
        if "did_log" in parsed:
            return "bundle"
        types = parsed.get("type")
        types = [types] if isinstance(types, str) else types if isinstance(types, list) else []
        if credentials.PRESENTATION_TYPE in types:
            return "presentation"
        if credentials.CREDENTIAL_TYPE in types:
            return "credential"
    return "did.jsonl"


def verify_vc(text: str, kind: str, args: argparse.Namespace) -> credentials.Verification:
    logs = []
    for path in args.did_log:
        try:
            logs.append(webvh.verify_jsonl(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, SSIError) as exc:
            return credentials.Verification(
                credentials.Verdict.CANNOT_CHECK, f"The DID log {path} cannot be used: {exc}"
            )
    lists = []
    for path in args.status_list:
        try:
            doc, _ = jcs.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SSIError) as exc:
            return credentials.Verification(
                credentials.Verdict.CANNOT_CHECK, f"The status list {path} cannot be read: {exc}"
            )
        lists.append(doc)
    common = {
        "resolver": credentials.log_resolver(*logs),
        "status_lists": credentials.StatusLists(d for d in lists if isinstance(d, dict) and "id" in d),
        "now": args.now,
    }
    if kind == "credential":
        return credentials.verify_credential(text, **common)
    if args.challenge is None or args.domain is None:
        return credentials.Verification(
            credentials.Verdict.CANNOT_CHECK,
            "A presentation is checked against the challenge and domain you asked for: give --challenge and --domain.",
        )
    return credentials.verify_presentation(
        text, challenge=args.challenge, domain=args.domain, holder_is_subject=args.holder_is_subject, **common
    )


def _time(raw: str) -> datetime:
    t = datetime.fromisoformat(raw)
    if t.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2027-03-03T12:00:00Z")
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssi.verify", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="twin bundle (.json), did.jsonl, credential or presentation")
    parser.add_argument("--did-log", type=Path, action="append", default=[], help="did.jsonl to resolve did:webvh")
    parser.add_argument("--status-list", type=Path, action="append", default=[], help="status list credential")
    parser.add_argument("--challenge", help="the challenge the presentation must carry")
    parser.add_argument(
        "--holder-is-subject",
        action="store_true",
        help="presentations: each credential must be about its holder (ownership credentials)",
    )
    parser.add_argument("--domain", help="the domain the presentation must carry")
    parser.add_argument("--now", type=_time, default=None, help="verify as at this time (RFC 3339)")
    args = parser.parse_args(argv)
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"FAIL: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    kind = kind_of(text)
    if kind in ("credential", "presentation"):
        result = verify_vc(text, kind, args)
        print(result.line())
        if result.ok:
            return EXIT_OK
        return EXIT_CANNOT_CHECK if result.verdict is credentials.Verdict.CANNOT_CHECK else EXIT_FAIL
    try:
        print(verify_text(text))
    except SSIError as exc:
        print(f"FAIL: {exc}")
        return EXIT_FAIL
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
