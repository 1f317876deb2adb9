"""Bulk tests' things: a few of alice's, one of carol's, one kept for alice by bob."""

from __future__ import annotations

import re
from html import unescape

import pytest

from twins import services as twin_services
from twins.models import Twin


def make_things(owner, count: int, prefix: str = "Drill") -> list[Twin]:
    return [twin_services.twin_create(owner=owner, name=f"{prefix} {i:03d}") for i in range(count)]


@pytest.fixture
def drills(alice) -> list[Twin]:
    return make_things(alice, 4)


def bar_count(client, page_url: str) -> str:
    """The selection bar's number for a cards page, as bulk.js fills it in: the page's bar names its count URL
    (data-count-url), which answers {"text": "2,143"}. "" when the page shows no bar."""
    match = re.search(r'data-count-url="([^"]*)"', client.get(page_url).content.decode())
    if not match:
        return ""
    response = client.get(unescape(match.group(1)))
    assert response.status_code == 200, response.content
    return response.json()["text"]
