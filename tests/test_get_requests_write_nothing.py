"""A GET changes nothing: every GET route of owners, twins and tags runs no INSERT, UPDATE or DELETE.

The routes are read from the apps' URL confs, so a new page is held to it the day it is added. The world is set
up so that a page that wrote "on the way" would show: alice has a stranger's scan still waiting to enter her
grinder's history (the catch-up an export or a page could be tempted to run), an unread inbox item, a journal
note, a tag, and an open transfer offer that bob, the buyer, opens.

Known writes by design, each tested on its own below with exactly what it may write:
- opening a tag URL (`/t/<token>`) records a scan, the owner's too: every scan is recorded (product requirement);
- opening an inbox item marks it read, as a mail client does.
Session and last-login writes happen at sign-in (force_login, before anything is captured); a GET of a signed-in
page does not touch the session row, so they need no exception.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from owners import urls as owner_urls
from owners.models import Notification
from owners.services import notify
from tags import urls as tag_urls
from tags.models import Scan
from tags.services import scan_record
from tests.conftest import client_for
from twins import services as twin_services
from twins import urls as twin_urls
from twins.transfer import offer_create

pytestmark = pytest.mark.django_db

_WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+"?(\w+)"?', re.IGNORECASE)

# Writes by design, with a test of their own below (see the module docstring).
WRITES_BY_DESIGN = {"tag-scan", "inbox-item"}


def writes_of(queries: CaptureQueriesContext) -> list[tuple[str, str]]:
    """(statement, table) of every write captured."""
    found = []
    for query in queries.captured_queries:
        match = _WRITE.match(query["sql"])
        if match:
            found.append((match.group(1).split()[0].upper(), match.group(2)))
    return found


def _get_routes() -> list[str]:
    names = [
        pattern.name
        for module in (owner_urls, twin_urls, tag_urls)
        for pattern in module.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.name
    ]
    return sorted(set(names) - WRITES_BY_DESIGN)


@pytest.fixture
def world(alice, bob, grinder, grinder_tag):
    note = twin_services.note_create(twin=grinder, title="Descaled")
    item = notify(owner=alice, kind=Notification.Kind.MESSAGE, title="Found it", twin=grinder)
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=["reading"])
    # Last, as anything appended to the history takes pending scans in first: a scan in the scan log and not yet in
    # the history, so a GET that ran the history catch-up (as an export once did) would write.
    scan_record(tag=grinder_tag, by_owner=False, user_agent="Phone")
    assert Scan.objects.filter(in_history=False).exists()
    return {
        "slug": grinder.slug,
        "tag_id": grinder_tag.pk,
        "note_id": note.pk,
        "notification_id": item.pk,
        "tag_token": grinder_tag.token,
        "offer_token": offer.token,
        "uidb64": urlsafe_base64_encode(force_bytes(alice.pk)),
        "alice": client_for(alice),
        "bob": client_for(bob),
    }


def _url(name: str, world: dict) -> str:
    pattern = next(
        p for module in (owner_urls, twin_urls, tag_urls) for p in module.urlpatterns if getattr(p, "name", "") == name
    )
    kwargs = {}
    for key in pattern.pattern.regex.groupindex:
        if key == "token":
            # The same kwarg name means a tag's token, a transfer offer's, or a password-reset token.
            if name.startswith("tag-"):
                kwargs[key] = world["tag_token"]
            elif name.startswith("transfer-"):
                kwargs[key] = world["offer_token"]
            else:
                kwargs[key] = "set-password"
        else:
            kwargs[key] = world[key]
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("name", _get_routes())
def test_a_get_writes_nothing(name, world):
    # The buyer opens the offer's pages; alice, the owner, every other page.
    client = world["bob"] if name.startswith("transfer-") else world["alice"]
    url = _url(name, world)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code < 500, url
    assert writes_of(queries) == [], f"GET {url} ({response.status_code}) wrote"


def test_the_pages_the_owner_and_the_buyer_use_answer_200(world):
    """The parametrized test above proves little about a page that answers a redirect or an error: these answer."""
    alice, bob = world["alice"], world["bob"]
    pages = [
        (alice, "things", {}),
        (alice, "thing", {"slug": world["slug"]}),
        (alice, "thing-edit", {"slug": world["slug"]}),
        (alice, "thing-public", {"slug": world["slug"]}),
        (alice, "note-edit", {"slug": world["slug"], "note_id": world["note_id"]}),
        (alice, "thing-transfer", {"slug": world["slug"]}),
        (alice, "thing-export", {"slug": world["slug"]}),
        (alice, "tag-new", {"slug": world["slug"]}),
        (alice, "tag-labels", {"slug": world["slug"]}),
        (alice, "owner-keys", {}),
        (alice, "profile", {}),
        (alice, "inbox", {}),
        (bob, "transfer-offer", {"token": world["offer_token"]}),
    ]
    for client, name, kwargs in pages:
        url = reverse(name, kwargs=kwargs)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        assert writes_of(queries) == [], f"GET {url} wrote"


def test_an_owners_scan_writes_only_its_scan(world, grinder_tag):
    # Every scan is recorded (product requirement), the owner's too; nothing else changes.
    with CaptureQueriesContext(connection) as queries:
        assert world["alice"].get(grinder_tag.get_absolute_url()).status_code == 200
    assert writes_of(queries) == [("INSERT", "tags_scan")]


def test_a_strangers_scan_writes_only_its_scan_and_the_owners_scanned_count(world, grinder_tag, carol_client):
    with CaptureQueriesContext(connection) as queries:
        assert carol_client.get(grinder_tag.get_absolute_url()).status_code == 200
    assert {table for _, table in writes_of(queries)} == {"tags_scan", "owners_notification"}


def test_opening_an_inbox_item_writes_only_its_read_mark(world):
    url = reverse("inbox-item", args=[world["notification_id"]])
    with CaptureQueriesContext(connection) as queries:
        assert world["alice"].get(url).status_code == 200
    assert writes_of(queries) == [("UPDATE", "owners_notification")]
    with CaptureQueriesContext(connection) as queries:
        world["alice"].get(url)
    assert writes_of(queries) == []
