"""The twin's hash-chained, signed, redactable history.

Entry format (one JSON object; field order irrelevant)::

    {
      "seq": 7,                         # 1-based position, no gaps
      "time": "2026-11-21T10:00:00.123456Z",  # RFC 3339 UTC; never decreases
      "kind": "reading",                # [a-z0-9_.-]+, e.g. reading, note, transfer
      "key": "z6Mk…",                   # twin agent key (Ed25519 Multikey) that signed
      "prev_hash": "uEiB…",             # hash of entry seq-1 (entry 1: genesis anchor)
      "content_hash": "uEiB…",          # salted commitment to the content
      "sig": "u…",                      # Ed25519 over the signing input
      "salt": "…", "content": {…}       # both absent once redacted
    }

Rules:

- signing input = JCS (RFC 8785) of ``{seq, time, kind, key, prev_hash,
  content_hash}``; ``sig`` is multibase base64url (``u``) of the Ed25519
  signature over it.
- entry hash = sha2-256 multihash of the signing input, multibase base64url
  (``uEiB…``). ``prev_hash`` of entry n is the entry hash of entry n-1;
  for entry 1 it is the *genesis anchor*, the same hash of
  ``JCS({"scid": <twin SCID>})``, so a chain cannot be grafted onto another
  twin (the SCID survives portable moves; the DID's domain does not).
- ``salt`` is base64url of 16 random bytes; ``content_hash`` is the multihash
  of ``JCS({"content": content, "salt": salt})``. Without the salt a redacted
  low-entropy content (a temperature, a GPS fix) could be guessed by hashing
  candidates.
- Redaction removes ``content`` and ``salt`` and nothing else: the signature
  and the chain still verify, and the gap is visible (the entry is there with
  its kind and time) but its content is not recoverable.

Which key may sign when (key rotation at transfer): the twin's signing keys
are the Ed25519 keys in the ``assertionMethod`` of its did:webvh DID document.
:class:`KeySchedule` turns the verified DID log into periods: version v's
keys are valid from its ``versionTime`` until the next version's. An entry is
valid only if its ``key`` is in the period containing its ``time``. Because
times never decrease along the chain, once an entry is dated after a
rotation, no later entry can be signed by a key the rotation removed: a
seller who kept the old twin key cannot append after the buyer's first entry,
nor insert into the middle (the hash chain forbids it). Entries dated before
the DID existed, or after its deactivation, have no valid key. Entries may
not be dated more than five minutes ahead of the verifier's clock.
"""

from __future__ import annotations

import binascii
import bisect
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ssi import jcs
from ssi.errors import HistoryError, SignatureError, SSIError
from ssi.keys import SigningKey, VerifyKey
from ssi.multibase import SHA2_256, b64url_encode

SIGNED_FIELDS = ("content_hash", "key", "kind", "prev_hash", "seq", "time")  # JCS order
REQUIRED = frozenset({"seq", "time", "kind", "key", "prev_hash", "content_hash", "sig"})
ALLOWED = REQUIRED | {"salt", "content"}
MAX_FUTURE_SKEW = timedelta(minutes=5)
SALT_BYTES = 16
_KIND_RE = re.compile(r"^[a-z0-9_.-]{1,64}$")
_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
_q = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # RFC 8785 §3.2.2.2


def _mh(data: bytes) -> str:
    """``u`` + base64url(sha2-256 multihash), via binascii (hot path)."""
    b64 = binascii.b2a_base64(SHA2_256 + hashlib.sha256(data).digest(), newline=False)
    return "u" + b64.translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def genesis_hash(scid: str) -> str:
    """The ``prev_hash`` of entry 1: binds the chain to the twin's SCID."""
    return _mh(jcs.canonicalize({"scid": scid}))


def new_salt() -> str:
    return b64url_encode(os.urandom(SALT_BYTES))


def content_hash(content: Any, salt: str, *, simple: bool = False) -> str:
    """Salted commitment: multihash of ``JCS({"content": …, "salt": …})``."""
    return _mh(jcs.canonicalize({"content": content, "salt": salt}, simple=simple))


def content_hash_of(canonical: bytes, salt: str) -> str:
    """:func:`content_hash` of a content given as its JCS bytes (``canonical``).

    RFC 8785 writes ``{"content": c, "salt": s}`` as ``{"content":`` + JCS(c) + ``,"salt":`` + JCS(s) + ``}``:
    compact, keys sorted ("content" < "salt"), members as canonicalized on their own; a test holds the two equal.
    ``salt`` is a string here (what :func:`new_salt` gives).
    """
    if type(salt) is not str:
        raise SSIError("salt must be a string")
    try:
        return _mh(b'{"content":' + canonical + b',"salt":' + _q(salt).encode("utf-8") + b"}")
    except UnicodeEncodeError:
        raise SSIError("string is not valid Unicode") from None


def signing_input(entry: Mapping[str, Any]) -> bytes:
    """JCS of the six signed fields, built directly (they are str/int only).

    Equivalent to ``jcs.canonicalize({k: entry[k] for k in SIGNED_FIELDS})``
    (a property test checks it): RFC 8785 writes strings exactly as the C
    ``json`` string encoder does without ASCII escaping, safe integers as
    decimal, and these ASCII keys in this fixed order.
    """
    seq = entry["seq"]
    if type(seq) is not int or not 0 < seq <= jcs.MAX_SAFE_INTEGER:
        raise SSIError("seq must be a positive integer")
    ch, key, kind, prev, time = (entry["content_hash"], entry["key"], entry["kind"], entry["prev_hash"], entry["time"])
    if not (type(ch) is type(key) is type(kind) is type(prev) is type(time) is str):
        raise SSIError("content_hash, key, kind, prev_hash and time must be strings")
    text = (
        f'{{"content_hash":{_q(ch)},"key":{_q(key)},"kind":{_q(kind)},'
        f'"prev_hash":{_q(prev)},"seq":{seq},"time":{_q(time)}}}'
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise SSIError("string is not valid Unicode") from None


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash the next entry's ``prev_hash`` must equal."""
    return _mh(signing_input(entry))


def format_time(t: datetime | None = None) -> str:
    t = (t or datetime.now(UTC)).astimezone(UTC)
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_time(raw: Any) -> datetime:
    if type(raw) is not str or not _TIME_RE.match(raw):
        raise SSIError("time must be RFC 3339 UTC, e.g. 2026-01-01T00:00:00.000000Z")
    return datetime.fromisoformat(raw)


def append(
    prev: Mapping[str, Any] | None,
    *,
    content: Any,
    kind: str,
    key: SigningKey,
    scid: str,
    time: datetime | str | None = None,
    salt: str | None = None,
    simple: bool = False,
) -> dict[str, Any]:
    """The entry following ``prev`` (``None`` for the first), signed by ``key``.

    Pure apart from the random salt and the default time (both injectable).
    Raises :class:`SSIError` if ``time`` is before ``prev``'s. ``simple``: the
    caller vouches that ``content`` may take JCS's fast path (see
    :func:`ssi.jcs.canonicalize`), sparing a walk of a large content.
    """
    time_raw = _next_time(prev, kind, time)
    salt = salt or new_salt()
    entry = _signed(prev, content_hash(content, salt, simple=simple), kind, key, scid, time_raw)
    entry["salt"] = salt
    entry["content"] = content
    return entry


def append_committed(
    prev: Mapping[str, Any] | None,
    *,
    content_hash: str,
    salt: str,
    kind: str,
    key: SigningKey,
    scid: str,
    time: datetime | str | None = None,
) -> dict[str, Any]:
    """:func:`append` for a content committed to beforehand (:func:`content_hash_of` with ``salt``): the entry
    without its ``content`` member, which :func:`entry_text` adds. A large content is then canonicalized and
    hashed once, and outside whatever serializes the appends (the twin's row lock)."""
    entry = _signed(prev, content_hash, kind, key, scid, _next_time(prev, kind, time))
    entry["salt"] = salt
    return entry


def _next_time(prev: Mapping[str, Any] | None, kind: str, time: datetime | str | None) -> str:
    """The new entry's time as written, after checking its kind and that time does not go backwards."""
    if not _KIND_RE.match(kind):
        raise SSIError("kind must match [a-z0-9_.-]{1,64}")
    time_raw = time if isinstance(time, str) else format_time(time)
    t = _parse_time(time_raw)
    if prev is not None and t < _parse_time(prev["time"]):
        raise SSIError("time may not go backwards")
    return time_raw


def _signed(
    prev: Mapping[str, Any] | None, content_hash: str, kind: str, key: SigningKey, scid: str, time_raw: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "seq": 1 if prev is None else prev["seq"] + 1,
        "time": time_raw,
        "kind": kind,
        "key": key.multibase,
        "prev_hash": genesis_hash(scid) if prev is None else entry_hash(prev),
        "content_hash": content_hash,
    }
    entry["sig"] = "u" + b64url_encode(key.sign(signing_input(entry)))
    return entry


def entry_text(entry: Mapping[str, Any], canonical: str) -> str:
    """The JSON text of ``entry`` (from :func:`append_committed`) with ``content`` whose JCS text is ``canonical``
    (any JSON text of the entry will do for storage: member order and layout carry no meaning)."""
    return json.dumps(entry)[:-1] + ',"content":' + canonical + "}"


def redact(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The same entry without ``content`` and ``salt``; it still verifies."""
    return {k: v for k, v in entry.items() if k not in ("content", "salt")}


def is_redacted(entry: Mapping[str, Any]) -> bool:
    return "content" not in entry


# ---------------------------------------------------------------------------
# Key validity


@dataclass(frozen=True)
class KeySchedule:
    """Which twin keys were valid when: ``starts[i]`` → ``keys[i]``."""

    starts: tuple[datetime, ...]
    keys: tuple[frozenset[str], ...]

    @classmethod
    def from_log(cls, state: Any) -> KeySchedule:
        """From a verified :class:`ssi.webvh.LogState` (assertionMethod keys)."""
        from ssi.webvh import assertion_keys  # local: history does not need webvh otherwise

        starts, keys = [], []
        for v in state.versions:
            starts.append(v.time)
            keys.append(frozenset() if v.deactivated else frozenset(assertion_keys(v.document)))
        return cls(tuple(starts), tuple(keys))

    @classmethod
    def fixed(cls, keys: Iterable[str]) -> KeySchedule:
        """The same keys at all times (tests, or a twin that never rotates)."""
        return cls((datetime.min.replace(tzinfo=UTC),), (frozenset(keys),))

    def keys_at(self, t: datetime) -> frozenset[str]:
        i = bisect.bisect_right(self.starts, t) - 1
        return self.keys[i] if i >= 0 else frozenset()

    def period(self, t: datetime) -> tuple[datetime | None, datetime | None, frozenset[str]]:
        """``(start, end, keys)`` of the period holding ``t`` (end exclusive, None = open)."""
        i = bisect.bisect_right(self.starts, t) - 1
        end = self.starts[i + 1] if i + 1 < len(self.starts) else None
        if i < 0:
            return None, self.starts[0], frozenset()
        return self.starts[i], end, self.keys[i]


@dataclass(frozen=True)
class ChainReport:
    """What a verified chain shows."""

    count: int
    redacted: int
    head_hash: str | None
    keys: tuple[str, ...]


def _decode_sig(text: Any) -> bytes:
    """``u`` + 86 base64url characters, canonical (spare bits zero), 64 bytes."""
    if type(text) is not str or len(text) != 87 or text[0] != "u":
        raise SignatureError("sig must be multibase base64url (u…) of 64 bytes")
    try:
        raw = text[1:].encode("ascii").translate(_FROM_URLSAFE)
        sig = binascii.a2b_base64(raw + b"==", strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        raise SignatureError("sig is not base64url") from None
    if binascii.b2a_base64(sig, newline=False)[:86] != raw:
        raise SignatureError("sig is not canonical base64url")
    return sig


def verify_chain(
    entries: Sequence[Mapping[str, Any] | str],
    schedule: KeySchedule,
    *,
    scid: str,
    now: datetime | None = None,
    assume_simple: bool = False,
) -> ChainReport:
    """Verify a whole history; raise :class:`HistoryError` at the first bad entry.

    ``entries`` are dicts or JSON texts in order. ``assume_simple``: dict
    entries came from :func:`ssi.jcs.loads` with ``simple=True``.
    """
    limit = (now or datetime.now(UTC)) + MAX_FUTURE_SKEW
    expected_prev = genesis_hash(scid)
    prev_time: datetime | None = None
    redacted = 0
    used: dict[str, None] = {}
    verify_keys: dict[str, VerifyKey] = {}
    p_start: datetime | None = None
    p_end: datetime | None = None
    p_keys: frozenset[str] | None = None
    for n, raw in enumerate(entries, 1):
        try:
            if isinstance(raw, str):
                entry, simple = jcs.loads(raw)
            else:
                entry, simple = raw, assume_simple
            if type(entry) is not dict:
                raise SSIError("entry must be a JSON object")
            names = entry.keys()
            if not REQUIRED <= names or not names <= ALLOWED:
                raise SSIError(f"entry fields must be {sorted(REQUIRED)} plus content and salt")
            if entry["seq"] != n or type(entry["seq"]) is not int:
                raise SSIError(f"seq is {entry['seq']!r}, expected {n} (gap or reordering)")
            t = _parse_time(entry["time"])
            if prev_time is not None and t < prev_time:
                raise SSIError("time goes backwards")
            if t > limit:
                raise SSIError("time is more than 5 minutes in the future")
            if type(entry["kind"]) is not str or not _KIND_RE.match(entry["kind"]):
                raise SSIError("bad kind")
            if entry["prev_hash"] != expected_prev:
                raise SSIError("prev_hash does not match the previous entry")
            key = entry["key"]
            # Times only grow, so the current key period is reused until t leaves it.
            if (p_start is not None and t < p_start) or (p_end is not None and t >= p_end) or p_keys is None:
                p_start, p_end, p_keys = schedule.period(t)
            if type(key) is not str or key not in p_keys:
                raise SSIError(f"key {key} was not a twin key at {entry['time']}")
            message = signing_input(entry)
            vk = verify_keys.get(key)
            if vk is None:
                vk = verify_keys[key] = VerifyKey.from_multibase(key)
            vk.verify(message, _decode_sig(entry["sig"]))
            has_content, has_salt = "content" in names, "salt" in names
            if has_content != has_salt:
                raise SSIError("content and salt must be both present or both removed")
            if has_content:
                if content_hash(entry["content"], entry["salt"], simple=simple) != entry["content_hash"]:
                    raise SSIError("content does not match content_hash")
            else:
                redacted += 1
        except HistoryError:
            raise
        except SSIError as exc:
            raise HistoryError(n, str(exc)) from None
        except (TypeError, KeyError, AttributeError, ValueError, RecursionError) as exc:
            # Hostile shapes must fail as "bad entry n", never crash the verifier.
            raise HistoryError(n, f"malformed entry ({type(exc).__name__}: {exc})") from None
        expected_prev = _mh(message)
        prev_time = t
        used.setdefault(key)
    return ChainReport(
        count=len(entries),
        redacted=redacted,
        head_hash=expected_prev if entries else None,
        keys=tuple(used),
    )
