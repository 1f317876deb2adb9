"""What anyone may learn about a twin's provenance: does its chain verify, how long, how much removed, since when
the current owner holds it. Uses exactly the offline verifier's code (ssi.bundle), so the server's answer and
`python -m ssi.verify` can never disagree (SECURITY 11)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.utils import timezone

from ssi import bundle, webvh
from ssi.errors import SSIError
from twins.history import history_entries
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
    """The owner's download: DID log, history (with redactions) and nothing private beyond what it commits to."""
    lines = list(DidLogEntry.objects.filter(twin=twin).order_by("version_number").values_list("line", flat=True))
    return {
        "format": bundle.FORMAT,
        "did": twin.did,
        "did_log": lines,
        "history": history_entries(twin),
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
