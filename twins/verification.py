"""What anyone may learn about a twin's provenance: does its chain verify, how long, how much removed, since when
the current owner holds it. Uses exactly the offline verifier's code (ssi.bundle), so the server's answer and
`python -m ssi.verify` can never disagree (SECURITY 11)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.utils import timezone

from ssi import bundle, webvh
from ssi.errors import SSIError
from twins.history import history_entries
from twins.identity import agent_key
from twins.models import DidLogEntry, HistoryEntry, Twin

CACHE_SECONDS = 600


@dataclass(frozen=True)
class Verification:
    did: str
    ok: bool
    problem: str
    entries: int
    redacted: int
    log_versions: int
    owner_since: str | None
    deactivated: bool

    def as_dict(self) -> dict:
        return asdict(self)


def export_bundle(twin: Twin) -> dict:
    """The owner's download: DID log, history (with redactions) and nothing private beyond what it commits to,
    closed by a head the twin's agent key signs now, so that a copy with its last entries cut off fails offline."""
    lines = list(DidLogEntry.objects.filter(twin=twin).order_by("version_number").values_list("line", flat=True))
    entries = history_entries(twin)
    # The head names the key by its id in the current DID document. The log is not verified here: the head is
    # checked against the verified log by whoever verifies the bundle (verify_twin below, python -m ssi.verify).
    last = json.loads(lines[-1])
    # Like history times (twins.history._time_after), the head may not predate the last entry nor the log
    # version whose key signs it; both can be a second or two ahead of this clock.
    when = max(
        timezone.now(),
        datetime.fromisoformat(last["versionTime"]),
        *(datetime.fromisoformat(e["time"]) for e in entries[-1:]),
    )
    head = bundle.sign_head(
        did=twin.did,
        document=last["state"],
        entries=entries,
        key=agent_key(twin),
        time=when,
        scid=webvh.parse_did(twin.did).scid,
    )
    return {
        "format": bundle.FORMAT,
        "did": twin.did,
        "did_log": lines,
        "history": entries,
        "head": head,
        "exported_at": timezone.now().isoformat(),
    }


def _owner_since(log: webvh.LogState) -> datetime:
    since, previous = log.versions[0].time, None
    for version in log.versions:
        if previous is not None and version.update_keys != previous:
            since = version.time
        previous = version.update_keys
    return since


def verify_twin(twin: Twin) -> Verification:
    """Verify the twin's log and history as a stranger would; cached until either changes."""
    stats = HistoryEntry.objects.filter(twin=twin).aggregate(
        head=Max("seq"), redacted=Count("pk", filter=Q(redacted=True))
    )
    versions = DidLogEntry.objects.filter(twin=twin).count()
    key = f"twins:verify:{twin.pk}:{versions}:{stats['head']}:{stats['redacted']}"
    cached = cache.get(key)
    if cached is not None:
        return Verification(**cached)
    data = export_bundle(twin)
    try:
        report = bundle.verify_bundle(data)
    except SSIError as exc:
        result = Verification(twin.did, False, str(exc), len(data["history"]), stats["redacted"], versions, None, False)
    else:
        result = Verification(
            did=report.did,
            ok=True,
            problem="",
            entries=report.entries,
            redacted=report.redacted,
            log_versions=report.log_versions,
            owner_since=_owner_since(report.log).isoformat(),
            deactivated=report.deactivated,
        )
    cache.set(key, result.as_dict(), CACHE_SECONDS)
    return result
