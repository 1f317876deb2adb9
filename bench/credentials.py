"""Benchmark: verifiable credentials verified per second against the bare Ed25519 floor.

Run from the repo root: ``python bench/credentials.py [--count N] [--repeat R]``.

Issues N credentials (did:key issuer, each with a BitstringStatusListEntry into
one 131,072-entry status list), parses them, then times, best of R,
``ssi.credentials.verify_credential`` over all N with the status list cached
(a ``StatusLists`` verified once before the timing), and in the same run the
floor: N bare PyNaCl Ed25519 verifications of 64-byte messages (eddsa-jcs-2022
signs the 64-byte pair of SHA-256 hashes). Prints both rates and the ratio
(target <= 1.5x), in wall time and in CPU time.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.verify import floor_fn, paired, paired_cpu  # the house pattern: interleaved best-of against the floor
from ssi import credentials as vc
from ssi import jcs, statuslist
from ssi.didkey import did_key
from ssi.keys import SigningKey

URL = "https://issuer.example/status/1"


def build(n: int) -> tuple[list[tuple[dict, bool]], vc.StatusLists]:
    key = SigningKey.from_seed(b"\x07" * 32)
    issuer = did_key(key.verify_key)
    bits = statuslist.Bitstring()
    for i in range(0, n, 97):
        bits.set(i)
    lists = vc.StatusLists([vc.issue(statuslist.list_credential(url=URL, issuer=issuer, bits=bits), key)])
    creds = []
    for i in range(n):
        cred = vc.credential(
            issuer=issuer,
            subject={"id": f"did:example:thing-{i}", "model": "G-200", "serial": f"A{i:06d}"},
            types=["WarrantyCredential"],
            id=f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            valid_from="2026-01-01T00:00:00Z",
            valid_until="2030-01-01T00:00:00Z",
            status=statuslist.status_entry(url=URL, index=i),
        )
        creds.append(jcs.loads(json.dumps(vc.issue(cred, key))))
    return creds, lists


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    creds, lists = build(args.count)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    policy = vc.IssuerPolicy(subject={"model": {"G-200"}})
    first = vc.verify_credential(creds[1][0], status_lists=lists, policy=policy, now=now)
    assert first.ok, first  # also verifies and caches the status list before the timing

    def run() -> None:
        for cred, _ in creds:
            vc.verify_credential(cred, status_lists=lists, policy=policy, now=now)

    base = floor_fn(args.count, 64)
    ours, floor = paired(run, base, args.repeat)
    # CPU time too (same runs, interleaved the same way): on a shared machine wall time includes waiting for a core.
    ours_cpu, floor_cpu = paired_cpu(run, base, args.repeat)
    revoked = sum(not vc.verify_credential(c, status_lists=lists, now=now).ok for c, _ in creds)
    print(f"{args.count} credentials ({revoked} revoked), status list cached, best of {args.repeat}")
    print(f"verify_credential: {args.count / ours:>9,.0f} /s ({ours / args.count * 1e6:.1f} us each)")
    print(f"Ed25519 floor:     {args.count / floor:>9,.0f} /s ({floor / args.count * 1e6:.1f} us each)")
    print(f"CPU time:          {ours_cpu / args.count * 1e6:.1f} us each, floor {floor_cpu / args.count * 1e6:.1f} us")
    print(f"ratio {ours / floor:.2f}x (target <= 1.5x); CPU time: {ours_cpu / floor_cpu:.2f}x")


if __name__ == "__main__":
    main()
