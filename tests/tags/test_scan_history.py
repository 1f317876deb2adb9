"""Scans enter the twin's signed history in batches, after the fact."""

import pytest

from tags.history import scans_to_history
from tags.models import Scan
from tags.services import scan_record
from twins import services
from twins.models import HistoryEntry
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db


def test_a_batch_of_scans_becomes_one_entry_each_and_the_chain_verifies(grinder, grinder_tag):
    services.reading_add(twin=grinder, value=3)
    Scan.objects.bulk_create([Scan(tag=grinder_tag, twin=grinder, user_agent="x") for _ in range(25)])
    assert scans_to_history(twin=grinder) == 25
    entries = HistoryEntry.objects.filter(twin=grinder).order_by("seq")
    assert [entry.seq for entry in entries] == list(range(1, entries.count() + 1))
    assert entries.filter(kind="scan").count() == 25
    assert not Scan.objects.filter(in_history=False).exists()
    assert scans_to_history(twin=grinder) == 0
    result = verify_twin(grinder)
    assert result.ok and result.entries == entries.count()


def test_scans_of_a_deactivated_twin_stay_out_of_its_closed_history(grinder, grinder_tag):
    services.twin_deactivate(twin=grinder)
    before = HistoryEntry.objects.filter(twin=grinder).count()
    scan_record(tag=grinder_tag, by_owner=False)
    assert scans_to_history(twin=grinder) == 0
    assert HistoryEntry.objects.filter(twin=grinder).count() == before
    assert verify_twin(grinder).ok
