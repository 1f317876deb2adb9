"""Real concurrent transactions on PostgreSQL: the one-level rule holds when two changes race.

SQLite serialises writers, so the race only means something on PostgreSQL (the PostgreSQL pass runs it).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from fleets import services
from fleets.models import Group
from tests.conftest import run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL"
    ),
]


def _two_levels(owner) -> list[str]:
    return [group.name for group in Group.objects.filter(owner=owner, parent__parent__isnull=False)]


def _fresh(pk: int) -> Group:
    return Group.objects.get(pk=pk)


def test_a_into_b_and_b_into_a_at_once_leave_one_level(alice):
    for round_ in range(5):
        a = services.group_create(owner=alice, name=f"A{round_}")
        b = services.group_create(owner=alice, name=f"B{round_}")
        outcomes = run_together(
            lambda a=a, b=b: services.group_move(group=_fresh(a.pk), parent=_fresh(b.pk)),
            lambda a=a, b=b: services.group_move(group=_fresh(b.pk), parent=_fresh(a.pk)),
        )
        assert sorted(kind for kind, _ in outcomes) == ["error", "ok"], outcomes
        # Refused with words, not a deadlock or a database error.
        assert all(isinstance(error, ValidationError) for kind, error in outcomes if kind == "error"), outcomes
        assert _two_levels(alice) == []


def test_a_room_created_while_its_site_moves_leaves_one_level(alice):
    for round_ in range(5):
        site = services.group_create(owner=alice, name=f"Site{round_}")
        other = services.group_create(owner=alice, name=f"Other{round_}")
        outcomes = run_together(
            lambda site=site, other=other: services.group_move(group=_fresh(site.pk), parent=_fresh(other.pk)),
            lambda site=site: services.group_create(owner=alice, name="Room", parent=_fresh(site.pk)),
        )
        assert sorted(kind for kind, _ in outcomes) == ["error", "ok"], outcomes
        # Refused with words, not a deadlock or a database error.
        assert all(isinstance(error, ValidationError) for kind, error in outcomes if kind == "error"), outcomes
        assert _two_levels(alice) == []
