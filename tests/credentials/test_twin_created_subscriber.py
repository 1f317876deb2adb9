"""The ownership credential's TwinCreated subscriber: a batch whose credentials were just issued is announced and
costs it no query a thing; anything else (not announced, or after the announcing block) is checked and, if needed,
issued, as for a twin_create'd thing."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from credentials.models import OwnershipCredential
from credentials.services import ownership_credentials_announced, ownership_credentials_issue_new
from twins import events
from twins.models import Twin
from twins.services import twins_create_many

pytestmark = pytest.mark.django_db


def _batch(owner, count: int, start: int = 0) -> list[Twin]:
    items = [{"name": f"Cow {n}", "serial": f"C-{n:04d}"} for n in range(start, start + count)]
    return twins_create_many(owner=owner, items=items, send_events=False)


def _created(twins: list[Twin]) -> None:
    for twin in twins:
        events.send(events.TwinCreated(twin_id=twin.pk, owner_id=twin.owner_id))


def test_an_announced_batch_costs_the_subscriber_no_query(alice):
    twins = _batch(alice, 30)
    issued = ownership_credentials_issue_new(twins=twins)
    with CaptureQueriesContext(connection) as queries, ownership_credentials_announced(c.twin_id for c in issued):
        _created(twins)
    assert len(queries) == 0, [q["sql"] for q in queries]
    assert OwnershipCredential.objects.standing().filter(holder=alice).count() == 30


def test_an_unannounced_batch_still_asks_once_a_thing_and_issues_nothing_twice(alice, django_assert_num_queries):
    twins = _batch(alice, 3)
    ownership_credentials_issue_new(twins=twins)
    with django_assert_num_queries(3):
        _created(twins)
    assert OwnershipCredential.objects.filter(holder=alice).count() == 3


def test_the_announcement_ends_with_its_block_so_a_thing_after_it_gets_its_credential(alice):
    twins = _batch(alice, 2)
    # A batch that announced and then failed (its savepoint rolled back): the ids are not remembered after it.
    with pytest.raises(RuntimeError), transaction.atomic(), ownership_credentials_announced(t.pk for t in twins):
        raise RuntimeError("a later step of the batch failed")
    _created(twins)
    for twin in twins:
        assert OwnershipCredential.objects.standing().filter(twin=twin, holder=alice).count() == 1


def test_a_thing_outside_the_announced_set_is_issued_its_credential_inside_the_block(alice):
    announced, other = _batch(alice, 1), _batch(alice, 1, start=10)
    issued = ownership_credentials_issue_new(twins=announced)
    with ownership_credentials_announced(c.twin_id for c in issued):
        _created(announced + other)
    assert OwnershipCredential.objects.standing().filter(twin=other[0], holder=alice).count() == 1
    assert OwnershipCredential.objects.filter(twin=announced[0]).count() == 1
