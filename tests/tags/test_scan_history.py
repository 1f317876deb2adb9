"""Scans enter the twin's signed history after the fact: one entry per twin per flush, committing to every scan."""

import pytest

from ssi import bundle
from ssi.errors import SSIError
from tags import history
from tags.history import scans_of, scans_to_history
from tags.models import Scan
from tags.services import scan_record
from twins import services
from twins.models import HistoryEntry
from twins.verification import export_bundle, verify_twin

pytestmark = pytest.mark.django_db


def _scans(tag, twin, n):
    return Scan.objects.bulk_create([Scan(tag=tag, twin=twin, user_agent="x") for _ in range(n)])


def test_a_batch_of_scans_becomes_one_entry_listing_each_scan_and_the_chain_verifies(grinder, grinder_tag):
    services.reading_add(twin=grinder, value=3)
    scans = _scans(grinder_tag, grinder, 25)
    assert scans_to_history(twin=grinder) == 25
    entries = HistoryEntry.objects.filter(twin=grinder).order_by("seq")
    assert [entry.seq for entry in entries] == list(range(1, entries.count() + 1))
    (entry,) = entries.filter(kind="scan")
    listed = scans_of(entry.entry)
    # Each scan is retrievable from the entry and matches the scan log.
    assert [item["scan"] for item in listed] == [scan.pk for scan in sorted(scans, key=lambda s: (s.time, s.pk))]
    assert all(item["tag"] == grinder_tag.code and item["by_owner"] is False for item in listed)
    assert not Scan.objects.filter(in_history=False).exists()
    assert scans_to_history(twin=grinder) == 0
    result = verify_twin(grinder)
    assert result.ok and result.entries == entries.count()


def test_a_single_scan_keeps_the_entry_of_one_scan(grinder, grinder_tag):
    (scan,) = _scans(grinder_tag, grinder, 1)
    assert scans_to_history(twin=grinder) == 1
    entry = HistoryEntry.objects.get(twin=grinder, kind="scan")
    scan.refresh_from_db()
    content = {"scan": scan.pk, "tag": grinder_tag.code, "by_owner": False, "time": scan.time.isoformat()}
    assert entry.entry["content"] == content
    assert entry.ref_id == scan.pk


def test_a_large_flush_is_split_into_entries_of_at_most_the_limit(grinder, grinder_tag, monkeypatch):
    monkeypatch.setattr(history, "SCANS_PER_ENTRY", 10)
    _scans(grinder_tag, grinder, 25)
    assert scans_to_history(twin=grinder) == 25
    sizes = [len(scans_of(e.entry)) for e in HistoryEntry.objects.filter(twin=grinder, kind="scan").order_by("seq")]
    assert sizes == [10, 10, 5]
    assert verify_twin(grinder).ok


def test_a_scan_changed_in_the_exported_history_fails_verification(grinder, grinder_tag):
    _scans(grinder_tag, grinder, 5)
    scans_to_history(twin=grinder)
    data = export_bundle(grinder)
    assert bundle.verify_bundle(data).entries == len(data["history"])
    at = next(n for n, entry in enumerate(data["history"]) if entry["kind"] == "scan")
    data["history"][at]["content"]["scans"][2]["time"] = "2020-01-01T00:00:00+00:00"
    with pytest.raises(SSIError, match=f"entry {data['history'][at]['seq']}"):
        bundle.verify_bundle(data)


def test_a_scan_left_out_of_the_exported_history_fails_verification(grinder, grinder_tag):
    _scans(grinder_tag, grinder, 5)
    scans_to_history(twin=grinder)
    data = export_bundle(grinder)
    at = next(n for n, entry in enumerate(data["history"]) if entry["kind"] == "scan")
    del data["history"][at]["content"]["scans"][0]
    with pytest.raises(SSIError):
        bundle.verify_bundle(data)


def test_removing_scans_before_a_sale_keeps_the_chain_verifying(grinder, grinder_tag):
    _scans(grinder_tag, grinder, 5)
    scans_to_history(twin=grinder)
    from twins.history import history_redact

    assert history_redact(twin=grinder, kinds=["scan"]) == 1
    assert scans_of(HistoryEntry.objects.get(twin=grinder, kind="scan").entry) == []
    assert verify_twin(grinder).ok


def test_scans_of_a_deactivated_twin_stay_out_of_its_closed_history(grinder, grinder_tag):
    services.twin_deactivate(twin=grinder)
    before = HistoryEntry.objects.filter(twin=grinder).count()
    scan_record(tag=grinder_tag, by_owner=False)
    assert scans_to_history(twin=grinder) == 0
    assert HistoryEntry.objects.filter(twin=grinder).count() == before
    assert verify_twin(grinder).ok
