"""Benchmark: firmware manifest checks and payload hashing against their floors, measured in the same run.

Run from the repo root: ``python bench/firmware.py [--count N] [--mb M] [--repeat R]``.

1. ``ssi.firmware.verify`` of N manifests (one maker proof; k-of-n with 2 officers: three proofs) against the
   maker's verified DID log, payload digest given, vs the floor: the same number of bare PyNaCl Ed25519
   verifications of 64-byte messages (what eddsa-jcs-2022 signs).
2. ``ssi.firmware.digest_stream`` of an M MB payload in 64 KiB chunks (how uploads, stored payloads and the CLI
   are hashed) vs the floor: one ``hashlib.sha256`` over the same bytes held whole in memory.
Prints rates and ratios, wall and CPU time, best of R (interleaved with the floor).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.verify import floor_fn, paired, paired_cpu
from ssi import firmware as fw
from ssi import webvh
from ssi.keys import SigningKey


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    maker = SigningKey.from_seed(b"\x01" * 32)
    officers = [SigningKey.from_seed(bytes([2 + i]) * 32) for i in range(3)]
    log = webvh.create(signer=maker, domain="example.com", path=("orgs", "acme"))
    payload = fw.Digest("ab" * 32, 1 << 20)
    policy = fw.Policy(threshold=2, officers=tuple(k.multibase for k in officers))
    plain, critical = [], []
    for i in range(args.count):
        m = fw.build(
            vendor_id=log.did,
            class_id="09506000134352",
            version=f"1.{i}",
            sequence=i + 1,
            payload=payload,
            payload_ref="fw.bin",
        )
        signed = fw.sign(m, maker)
        plain.append(signed)
        critical.append(fw.sign(fw.sign(signed, officers[0]), officers[1]))

    def run(manifests, pol):
        def go() -> None:
            for m in manifests:
                fw.verify(m, payload, maker=log, class_id="09506000134352", last_sequence=0, policy=pol)

        return go

    for label, manifests, pol, sigs in (("1 proof", plain, None, 1), ("3 proofs (2 of 3)", critical, policy, 3)):
        floor = floor_fn(args.count * sigs, 64)
        ours, base = paired(run(manifests, pol), floor, args.repeat)
        ours_cpu, base_cpu = paired_cpu(run(manifests, pol), floor, args.repeat)
        print(
            f"verify, {label}: {args.count / ours:,.0f} manifests/s; floor {args.count * sigs / base:,.0f} Ed25519/s; "
            f"ratio per signature {ours / base:.2f}x wall, {ours_cpu / base_cpu:.2f}x CPU"
        )

    data = bytes(range(256)) * (args.mb * 4096)

    def chunked() -> None:
        fw.digest_stream(io.BytesIO(data))

    def whole() -> None:
        hashlib.sha256(data).hexdigest()

    ours, base = paired(chunked, whole, args.repeat)
    ours_cpu, base_cpu = paired_cpu(chunked, whole, args.repeat)
    print(
        f"hash {args.mb} MB in 64 KiB chunks: {args.mb / ours:,.0f} MB/s; whole in memory {args.mb / base:,.0f} MB/s; "
        f"ratio {ours / base:.2f}x wall, {ours_cpu / base_cpu:.2f}x CPU"
    )


if __name__ == "__main__":
    main()
