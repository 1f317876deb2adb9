"""The selection bar's number comes from GET /bulk/count, beside the cards page (bulk.section): the page itself only
asks whether any of the viewer's own things match. The count is the owner's own things matching the page's filters,
up to the bar's caps; it needs a login, writes nothing and refuses a bad filter with words."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from credentials import keepers
from credentials.models import AccessCredential
from tests.bulk.conftest import bar_count, make_things
from tests.conftest import client_for
from twins import services as twin_services


def test_the_cards_page_counts_nothing_and_names_the_count_url_with_its_filters(alice_client, drills):
    twin_services.twin_set_lost(twin=drills[0], lost=True)
    with CaptureQueriesContext(connection) as queries:
        page = alice_client.get("/things/?lost=yes&cursor=").content.decode()
    assert 'data-count-url="/bulk/count?lost=yes"' in page
    # The bar's only question is a LIMIT 1 (any of yours matching?), never a count up to the cap.
    bar = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(*) FROM (SELECT")]
    assert len(bar) == 1 and bar[0].rstrip().endswith("LIMIT 1) subquery"), bar
    assert bar_count(alice_client, "/things/?lost=yes") == "1"


def test_the_count_answers_json_with_the_number_and_its_words(alice_client, drills):
    response = alice_client.get("/bulk/count")
    assert response.status_code == 200
    assert response.json() == {"matching": 4, "text": "4", "capped": False}
    assert "no-store" in response["Cache-Control"]  # never a stale number from a cache


def test_the_count_past_the_cap_says_so(alice_client, drills, monkeypatch):
    from bulk import section

    monkeypatch.setattr(section, "COUNT_CAP", 3)
    assert alice_client.get("/bulk/count").json() == {"matching": 4, "text": "3+", "capped": True}


def test_the_count_is_the_viewers_own_things_only(alice, bob, carol, alice_client, carol_client, drills):
    make_things(carol, 2, prefix="Carol's drill")
    bobs = make_things(bob, 1, prefix="Bob's drill")[0]
    role, capabilities = AccessCredential.Role.KEEPER, keepers.KEEPER_CAPABILITIES
    keepers.access_credential_issue(twin=bobs, issued_by=bob, holder=alice, role=role, capabilities=capabilities)
    assert alice_client.get("/bulk/count", {"q": "drill"}).json()["matching"] == 4  # not bob's kept one
    assert carol_client.get("/bulk/count", {"q": "drill"}).json()["matching"] == 2


def test_no_bar_when_none_of_your_things_match_and_the_count_says_zero(alice_client, drills):
    page = alice_client.get("/things/?q=nothing+like+it").content.decode()
    assert 'id="bulk-selection"' not in page
    assert alice_client.get("/bulk/count", {"q": "nothing like it"}).json()["matching"] == 0


def test_no_bar_for_a_keeper_with_only_kept_things(alice, bob):
    alices = make_things(alice, 1)[0]
    role, capabilities = AccessCredential.Role.KEEPER, keepers.KEEPER_CAPABILITIES
    keepers.access_credential_issue(twin=alices, issued_by=alice, holder=bob, role=role, capabilities=capabilities)
    page = client_for(bob).get("/things/").content.decode()
    assert alices.name in page and 'id="bulk-selection"' not in page


def test_a_bad_filter_is_a_400_with_words(alice_client, drills):
    response = alice_client.get("/bulk/count", {"attr": "weight>heavy"})
    assert response.status_code == 400
    assert response.json()["message"]


def test_the_count_needs_a_login_and_a_get(alice_client, drills):
    response = Client().get("/bulk/count")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert alice_client.post("/bulk/count").status_code == 405


def test_the_count_writes_nothing(alice_client, drills):
    with CaptureQueriesContext(connection) as queries:
        alice_client.get("/bulk/count", {"q": "drill"})
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []
