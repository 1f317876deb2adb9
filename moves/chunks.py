"""A sealed package larger than one request: the destination (B) takes it in chunks, on disk, and opens it whole.

The source pushes the sealed bytes in order (``offset``, the whole package's ``size`` and its ``sealed_sha256``,
the SHA-256 of the sealed bytes, not of the plaintext the protocol's ``sha256`` names), each chunk at most one
request (REQUEST_MAX_BYTES). B appends each to ``MEDIA_ROOT/tmp/moves/<move id>.<sealed_sha256>.part`` under an
exclusive file lock and answers how many bytes it holds, so a push killed on either side resumes where B's file
ends (:func:`held`); a chunk at another offset is refused and says where to go on. Once the file is whole its
SHA-256 is checked (read in blocks) and the package is opened (moves.services.package_received) and the file
removed, whatever the outcome but a crash (then the last, empty, chunk opens it again).

Memory: a chunk at a time while the package travels. Opening is a libsodium sealed box, which needs all its bytes
at once: the package is read into memory then (and inflated and parsed), so MOVES_MAX_PACKAGE_BYTES is also about
how much memory a worker of B may take (docs/moves.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from pathlib import Path

from django.conf import settings

from core.errors import Conflict
from moves.models import MoveIn

# The package's default cap when MOVES_MAX_PACKAGE_BYTES is not set: a thing with many photos and documents moves.
# Not 1 GiB: the source keeps the sealed package in one database value until it is pushed, and SQLite takes at most
# 1,000,000,000 bytes in one (SQLITE_MAX_LENGTH), PostgreSQL 1 GiB less a byte (bytea).
DEFAULT_MAX_PACKAGE_BYTES = 256 * 1024 * 1024
HASH_BLOCK = 1024 * 1024
# A package nobody has added to for a day is dropped (:func:`sweep`): an open request lives a day at most unconfirmed.
STALE_SECONDS = 24 * 3600.0
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# The states in which a package (or the same package again) is taken; any other: the move ended here (410).
TAKING = (MoveIn.State.NEW, MoveIn.State.REQUESTED, MoveIn.State.ARRIVED, MoveIn.State.DONE)


class ChunkRefused(Conflict):
    """A chunk this instance does not take; ``message`` says why and what to do (409, 400, 410 or 413)."""

    message = "This chunk of the package cannot be taken."


def max_package_bytes() -> int:
    """MOVES_MAX_PACKAGE_BYTES: the largest sealed package this instance takes, in one request or in chunks."""
    return int(getattr(settings, "MOVES_MAX_PACKAGE_BYTES", DEFAULT_MAX_PACKAGE_BYTES))


def chunk_bytes() -> int:
    """The largest chunk this instance takes in one request (what BodySizeLimitMiddleware lets through)."""
    return int(settings.REQUEST_MAX_BYTES)


def folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "tmp" / "moves"


def _path(move: MoveIn, sealed_sha256: str) -> Path:
    return folder() / f"{move.public_id}.{sealed_sha256}.part"


def check_sealed_sha256(text: str) -> str:
    """The package's SHA-256 as 64 lowercase hex digits; ChunkRefused (400) in words otherwise."""
    value = (text or "").strip().lower()
    if not _HEX64.match(value):
        raise ChunkRefused("sealed_sha256 must be the SHA-256 of the whole sealed package, 64 hex digits.", status=400)
    return value


def check_taking(move: MoveIn) -> None:
    """A move that ended here takes no more bytes (410), before anything is written."""
    state = MoveIn.objects.filter(pk=move.pk).values_list("state", flat=True).first()
    if state not in TAKING:
        label = MoveIn.State(state).label.lower() if state else "gone"
        raise ChunkRefused(f"This move is {label} here.", status=410)


def held(move: MoveIn, sealed_sha256: str) -> int:
    """How many bytes of this package this instance holds (0 if none)."""
    try:
        return _path(move, sealed_sha256).stat().st_size
    except FileNotFoundError:
        return 0


def forget(move: MoveIn, *, keep: str = "") -> None:
    """Remove what this instance holds of the move's packages (all of them, or all but ``keep``'s)."""
    for path in folder().glob(f"{move.public_id}.*.part"):
        if not keep or path.name != f"{move.public_id}.{keep}.part":
            path.unlink(missing_ok=True)


def sweep(*, older_than: float = STALE_SECONDS) -> int:
    """Remove packages nobody has added to for ``older_than`` seconds (a source that stopped half-way and a move
    that never ended here, say a "source" that answers "requested" for ever); how many went. Run as each new
    package begins."""
    cutoff = time.time() - older_than
    gone = 0
    for path in folder().glob("*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                gone += 1
        except FileNotFoundError:
            continue
    return gone


def append(move: MoveIn, *, sealed_sha256: str, size: int, offset: int, data: bytes) -> int:
    """Append ``data`` at ``offset`` of the package; the bytes now held. ChunkRefused in words: 413 past the cap,
    409 (``extra.offset``: where to go on) at another offset than the held bytes' end, 400 past ``size``."""
    cap = max_package_bytes()
    if size > cap:
        raise ChunkRefused(
            f"The package is too large for this instance: {size} bytes, the limit is {cap} bytes.", status=413
        )
    if size <= 0 or offset < 0:
        raise ChunkRefused("size must be the whole sealed package's length and offset at least 0.", status=400)
    if offset + len(data) > size:
        raise ChunkRefused(
            f"This chunk ends at byte {offset + len(data)}, past the package's size ({size}).", status=400
        )
    if not data and offset < size:
        raise ChunkRefused("A chunk before the package's end cannot be empty.", status=400)
    folder().mkdir(parents=True, exist_ok=True)
    if offset == 0:
        forget(move, keep=sealed_sha256)  # another package of this move (sealed again?) is superseded
        sweep()
    with open(_path(move, sealed_sha256), "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two pushes of the same chunk: one appends, the other is told
        try:
            have = handle.seek(0, os.SEEK_END)
            if offset != have:
                raise ChunkRefused(
                    f"This instance holds {have} bytes of this package: send the chunk at offset {have}.",
                    extra={"offset": have},
                )
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            return have + len(data)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def whole(move: MoveIn, *, sealed_sha256: str, size: int) -> bytes:
    """The package's bytes once all ``size`` arrived and their SHA-256 is ``sealed_sha256`` (the file is removed
    and ChunkRefused 400 says to start again otherwise)."""
    path = _path(move, sealed_sha256)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    if digest.hexdigest() != sealed_sha256:
        path.unlink(missing_ok=True)
        raise ChunkRefused(
            "The package's bytes do not match its sealed_sha256: what was held is dropped, send it again from"
            " offset 0.",
            status=400,
            extra={"offset": 0},
        )
    return path.read_bytes()
