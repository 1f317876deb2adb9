"""Bulk tests' things: a few of alice's, one of carol's, one kept for alice by bob."""

from __future__ import annotations

import pytest

from twins import services as twin_services
from twins.models import Twin


def make_things(owner, count: int, prefix: str = "Drill") -> list[Twin]:
    return [twin_services.twin_create(owner=owner, name=f"{prefix} {i:03d}") for i in range(count)]


@pytest.fixture
def drills(alice) -> list[Twin]:
    return make_things(alice, 4)
