"""Exported twin bundles: one JSON file that proves a twin's identity and history.

Format (``format`` = ``thingstead-twin-bundle/1``)::

    {
      "format": "thingstead-twin-bundle/1",
      "did": "did:webvh:…",          # optional; if present, must be the log's current DID
      "did_log": [ … ],              # did.jsonl entries, as objects or as JSON-line strings
      "history": [ … ],              # ssi.history entries, oldest first (may be empty)
      "exported_at": "…"             # optional, informational, not signed
    }

Verification (:func:`verify_bundle`) needs nothing but this file: the DID log
is verified with :func:`ssi.webvh.verify_log`, the twin keys and their
validity periods come from it (:meth:`ssi.history.KeySchedule.from_log`), and
the history is verified against those keys and the log's SCID with
:func:`ssi.history.verify_chain`. The server calls the same functions
(SECURITY 11).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ssi import history, jcs, webvh
from ssi.errors import HistoryError, LogError, SSIError

FORMAT = "thingstead-twin-bundle/1"


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

    def summary(self) -> str:
        owner = ", ".join(self.owner_keys) or "none (deactivated)"
        return f"OK: {self.entries} entries, {self.redacted} redacted, owner key {owner}"


def make_bundle(
    log: webvh.LogState, entries: list[Mapping[str, Any]], *, exported_at: str | None = None
) -> dict[str, Any]:
    """Assemble a bundle from a verified log and history entries."""
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "did": log.did,
        "did_log": list(log.entries),
        "history": list(entries),
    }
    if exported_at:
        bundle["exported_at"] = exported_at
    return bundle


def verify_bundle(data: str | bytes | Mapping[str, Any], *, now: datetime | None = None) -> BundleReport:
    """Verify a bundle (text or parsed); raise :class:`BundleError` on failure."""
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
    )
