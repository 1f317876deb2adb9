"""``python -m ssi.verify FILE``: verify a twin offline.

FILE is a twin bundle (see :mod:`ssi.bundle`) or a bare ``did.jsonl``. Prints
``OK: …`` and exits 0, or ``FAIL: <where>: <why>`` and exits 1 (2 for an
unreadable file). Needs only this package and PyNaCl (rfc8785 only for documents holding floats, huge
integers or characters beyond the BMP); no network.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssi import jcs, webvh
from ssi.bundle import BundleError, verify_bundle
from ssi.errors import LogError, SSIError


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssi.verify", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="twin bundle (.json) or did.jsonl")
    args = parser.parse_args(argv)
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"FAIL: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        print(verify_text(text))
    except SSIError as exc:
        print(f"FAIL: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
