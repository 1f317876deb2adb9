"""twins_create_many (with credentials' ownership_credentials_issue_new after it, as imports calls them) asks the
database a fixed number of queries per batch, whatever the batch's size: no SELECT per thing for its slug's
uniqueness or its name's check constraint, no read-back of the DID logs it just wrote. A bad item still stops the
whole batch before anything is written, and the database's own refusal still takes the whole batch with it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from credentials.models import OwnershipCredential, StatusList
from credentials.services import ownership_credentials_issue_new
from twins.models import DidLogEntry, HistoryEntry, Twin, new_public_id
from twins.services import twins_create_many
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db


def _items(count: int, start: int = 0) -> list[dict]:
    return [
        {"name": f"Cow {n}", "model_name": "Holstein", "serial": f"C-{n:04d}", "attributes": {"colour": "black"}}
        for n in range(start, start + count)
    ]


def _queries_for(owner, count: int, start: int) -> int:
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        twins = twins_create_many(owner=owner, items=_items(count, start), send_events=False)
        ownership_credentials_issue_new(twins=twins)
    return len(queries)


@pytest.mark.needs("credentials")
def test_a_batch_of_forty_asks_no_more_queries_than_a_batch_of_four(alice):
    _queries_for(alice, 1, 9000)  # the owner's keys are made on first use: not part of the comparison
    small = _queries_for(alice, 4, 0)
    large = _queries_for(alice, 40, 100)
    assert large == small, (small, large)
    made = Twin.objects.filter(owner=alice)
    assert made.count() == 45
    assert DidLogEntry.objects.filter(twin__owner=alice).count() == 45
    assert HistoryEntry.objects.filter(twin__owner=alice).count() == 90  # created, credential
    assert StatusList.objects.filter(twin__owner=alice).count() == 45
    assert OwnershipCredential.objects.filter(twin__owner=alice, holder=alice).count() == 45
    for twin in made.order_by("?")[:3]:
        verified = verify_twin(twin)
        assert verified.ok, verified.problem


@pytest.mark.parametrize(
    ("bad", "field"),
    [({"name": "  "}, "name"), ({"serial": "S" * 121}, "serial"), ({"icon": "no-such-icon"}, "icon")],
)
def test_one_bad_item_stops_its_batch_before_anything_is_written(alice, bad, field):
    items = _items(3)
    items[1] = {**items[1], **bad}
    with pytest.raises(ValidationError) as caught:
        twins_create_many(owner=alice, items=items)
    assert field in caught.value.message_dict
    assert not Twin.objects.filter(owner=alice).exists()
    assert not DidLogEntry.objects.exists() and not HistoryEntry.objects.exists()


def test_a_batch_the_database_refuses_leaves_nothing_of_itself(alice, monkeypatch):
    # The slug's uniqueness is no longer asked row by row: a taken one (128 random bits: a collision stands in for
    # any refusal only the database sees) is refused by the database, for the whole batch.
    taken = twins_create_many(owner=alice, items=_items(1))[0]
    before = Twin.objects.count(), DidLogEntry.objects.count(), HistoryEntry.objects.count()
    slugs = iter([new_public_id(), taken.slug, new_public_id()])
    monkeypatch.setattr(Twin._meta.get_field("slug"), "_get_default", lambda: next(slugs))
    with pytest.raises(IntegrityError), transaction.atomic():
        twins_create_many(owner=alice, items=_items(3, 1))
    assert (Twin.objects.count(), DidLogEntry.objects.count(), HistoryEntry.objects.count()) == before


def _import_queries(owner, count: int, start: int) -> int:
    from tests.imports.conftest import run_import

    rows = "".join(f"Cow {n},Holstein,C-{n:05d},cow-{n}\n" for n in range(start, start + count))
    with CaptureQueriesContext(connection) as queries:
        run = run_import(owner, "name,model,serial,external id\n" + rows)
    assert (run.status, run.created) == ("done", count), (run.status, run.message)
    return len(queries)


@pytest.mark.needs("credentials")
def test_importing_forty_new_things_asks_no_more_queries_than_four(alice):
    # The whole import (upload, dry run, one batch), TwinCreated's subscribers included: before, the ownership
    # credential's subscriber asked once a thing whether the credential just issued was standing.
    _import_queries(alice, 1, 90000)  # the owner's keys are made on first use: not part of the comparison
    small = _import_queries(alice, 4, 0)
    large = _import_queries(alice, 40, 100)
    assert large == small, (small, large)
    assert OwnershipCredential.objects.standing().filter(holder=alice).count() == 45
