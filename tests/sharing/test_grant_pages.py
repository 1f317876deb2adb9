"""The sharing pages: the panel on a thing's page, a thing's sharing page (grants, the add form, the delivery log,
one-tap revoke), a party's page (revoke all), the bulk grant, webhook endpoints (the secret shown once). Another
owner gets a 404 on every one of them, and changes nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sharing import grants
from sharing.models import Grant, OutboxItem, WebhookEndpoint
from tests.conftest import client_for
from twins import services as twin_services

pytestmark = pytest.mark.django_db


def test_the_things_page_has_a_sharing_panel_saying_what_goes_to_whom(alice_client, grinder, grant):
    page = alice_client.get(f"/things/{grinder.slug}/").content.decode()
    assert 'data-testid="sharing-panel"' in page
    assert "Acme Grinders" in page and "Readings (all kinds)" in page and "until you revoke it" in page
    assert f"/things/{grinder.slug}/sharing/" in page


def test_the_panel_says_nothing_is_shared_by_default(alice_client, grinder):
    assert "Nothing of this thing is shared" in alice_client.get(f"/things/{grinder.slug}/").content.decode()


def test_the_nav_links_to_sharing(alice_client):
    assert 'href="/sharing/"' in alice_client.get("/sharing/").content.decode()


def test_granting_from_the_things_page(alice, alice_client, grinder, connection):
    response = alice_client.post(
        f"/things/{grinder.slug}/sharing/",
        {
            "party": f"connection:{connection.pk}",
            "kinds": ["scans"],
            "reading_kinds": "temperature, humidity",
            "until": "2099-01-31",
        },
    )
    assert response.status_code == 302
    grant = Grant.objects.get()
    assert grant.kinds == ["scans", "readings:temperature", "readings:humidity"]
    assert grant.expires_at.isoformat() == "2099-01-31T00:00:00+00:00" and grant.created_by == alice


def test_the_form_lists_only_the_owners_parties(alice_client, carol, grinder, connection, endpoint):
    carols, _ = grants.webhook_endpoint_create(owner=carol, label="Carol's hook", url="http://127.0.0.1:9/c")
    page = alice_client.get(f"/things/{grinder.slug}/sharing/").content.decode()
    assert "Acme Grinders" in page and "Insurer (webhook)" in page and "Carol's hook" not in page
    response = alice_client.post(
        f"/things/{grinder.slug}/sharing/", {"party": f"endpoint:{carols.pk}", "kinds": ["scans"]}
    )
    assert response.status_code == 400 and not Grant.objects.exists()


@pytest.mark.parametrize(
    "data",
    [{"kinds": ["scans"]}, {"party": "connection:CONN"}, {"party": "connection:CONN", "kinds": ["secrets"]}],
    ids=["no-party", "no-kinds", "unknown-kind"],
)
def test_bad_grant_forms_are_400_with_nothing_written(alice_client, grinder, connection, data):
    data = {
        key: value.replace("CONN", str(connection.pk)) if isinstance(value, str) else value
        for key, value in data.items()
    }
    response = alice_client.post(f"/things/{grinder.slug}/sharing/", data)
    assert response.status_code == 400 and not Grant.objects.exists()


def test_a_second_grant_to_the_same_party_is_refused_with_a_message(alice_client, grinder, connection, grant):
    response = alice_client.post(
        f"/things/{grinder.slug}/sharing/", {"party": f"connection:{connection.pk}", "kinds": ["scans"]}
    )
    assert response.status_code == 409 and b"change that grant" in response.content


def test_the_delivery_log_shows_what_was_sent_and_its_status_and_revokes_in_one_tap(alice_client, grinder, grant):
    twin_services.reading_add(twin=grinder, value=1)
    OutboxItem.objects.create(
        grant=grant,
        twin=grinder,
        kind="readings",
        count=7,
        status=OutboxItem.Status.DELIVERED,
        window_ends_at=timezone.now(),
        delivered_at=timezone.now(),
    )
    page = alice_client.get(f"/things/{grinder.slug}/sharing/").content.decode()
    assert 'data-testid="delivery-log"' in page
    assert "7 × readings" in page and "Delivered" in page and "Collecting" in page
    response = alice_client.post(f"/sharing/grants/{grant.pk}/revoke/", {"next": f"/things/{grinder.slug}/sharing/"})
    assert response.status_code == 302 and response.url == f"/things/{grinder.slug}/sharing/"
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert OutboxItem.objects.filter(status=OutboxItem.Status.CANCELLED).count() == 1


def test_revoke_does_not_redirect_off_site(alice_client, grant):
    response = alice_client.post(f"/sharing/grants/{grant.pk}/revoke/", {"next": "//evil.example/"})
    assert response.status_code == 302 and response.url.startswith("/things/")


def test_revoke_is_a_post(alice_client, grant):
    assert alice_client.get(f"/sharing/grants/{grant.pk}/revoke/").status_code == 405
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_changing_a_grant(alice_client, grant):
    response = alice_client.post(f"/sharing/grants/{grant.pk}/", {"kinds": ["journal"], "until": ""})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.kinds == ["journal"] and grant.expires_at is None


def test_a_partys_page_lists_its_grants_across_things_and_revokes_them_all(alice, alice_client, grinder, connection):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    grants.grant_create(twins=[grinder, kettle], party=connection, kinds=["usage"], by=alice)
    page = alice_client.get(f"/sharing/parties/connection/{connection.pk}/").content.decode()
    assert "Kettle" in page and "Coffee grinder" in page
    response = alice_client.post(f"/sharing/parties/connection/{connection.pk}/revoke/")
    assert response.status_code == 302
    assert not Grant.objects.filter(revoked_at__isnull=True).exists()


def test_bulk_grant_on_several_things(alice, alice_client, grinder, endpoint):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    page = alice_client.get(f"/sharing/bulk/?thing={kettle.slug}").content.decode()
    assert "Kettle" in page and "Coffee grinder" in page
    response = alice_client.post(
        "/sharing/bulk/",
        {"twins": [grinder.slug, kettle.slug], "party": f"endpoint:{endpoint.pk}", "kinds": ["readings", "journal"]},
    )
    assert response.status_code == 302
    assert sorted(Grant.objects.values_list("twin__name", flat=True)) == ["Coffee grinder", "Kettle"]


def test_bulk_grant_cannot_name_someone_elses_thing(alice_client, bob, grinder, endpoint):
    bobs = twin_services.twin_create(owner=bob, name="Bob's bike")
    response = alice_client.post(
        "/sharing/bulk/", {"twins": [grinder.slug, bobs.slug], "party": f"endpoint:{endpoint.pk}", "kinds": ["usage"]}
    )
    assert response.status_code == 400 and not Grant.objects.exists()


def test_creating_an_endpoint_shows_its_secret_once(alice_client):
    response = alice_client.post("/sharing/webhooks/", {"label": "Insurer", "url": "http://127.0.0.1:9/hook"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert 'data-testid="endpoint-secret"' in page and "whsec_" in page
    assert "whsec_" not in alice_client.get("/sharing/webhooks/").content.decode()
    assert WebhookEndpoint.objects.get().label == "Insurer"


def test_a_refused_endpoint_url_says_why(alice_client, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    response = alice_client.post("/sharing/webhooks/", {"label": "X", "url": "https://192.168.1.10/hook"})
    assert response.status_code == 400 and b"private network" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_endpoints_are_deleted_and_enabled_again_by_post(alice_client, endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=timezone.now(), disabled_reason="410 Gone")
    assert b"410 Gone" in alice_client.get("/sharing/webhooks/").content
    assert alice_client.post(f"/sharing/webhooks/{endpoint.pk}/enable/").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None
    assert alice_client.post(f"/sharing/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_another_owner_gets_404_everywhere_and_changes_nothing(carol, grinder, connection, endpoint, grant):
    carol_client = client_for(carol)
    for url in (
        f"/things/{grinder.slug}/sharing/",
        f"/sharing/grants/{grant.pk}/",
        f"/sharing/parties/connection/{connection.pk}/",
        f"/sharing/parties/endpoint/{endpoint.pk}/",
    ):
        assert carol_client.get(url).status_code == 404, url
    for url in (
        f"/things/{grinder.slug}/sharing/",
        f"/sharing/grants/{grant.pk}/",
        f"/sharing/grants/{grant.pk}/revoke/",
        f"/sharing/parties/connection/{connection.pk}/revoke/",
        f"/sharing/webhooks/{endpoint.pk}/delete/",
        f"/sharing/webhooks/{endpoint.pk}/enable/",
    ):
        assert carol_client.post(url, {"kinds": ["scans"], "party": f"connection:{connection.pk}"}).status_code == 404
    grant.refresh_from_db()
    assert grant.revoked_at is None and grant.kinds == ["readings"] and WebhookEndpoint.objects.exists()
    assert "Insurer" not in carol_client.get("/sharing/webhooks/").content.decode()
    assert "Acme" not in carol_client.get("/sharing/").content.decode()


def test_anonymous_visitors_are_sent_to_log_in(anon_client, grinder):
    response = anon_client.get(f"/things/{grinder.slug}/sharing/")
    assert response.status_code == 302 and "/login" in response.url


def test_after_a_transfer_the_buyer_sees_none_of_the_sellers_grants_or_log(alice, bob, grinder, grant):
    from twins import transfer

    twin_services.reading_add(twin=grinder, value=1)
    offer = transfer.offer_create(twin=grinder, seller=alice, redact_kinds=[])
    transfer.offer_accept(offer=offer, buyer=bob)
    page = client_for(bob).get(f"/things/{grinder.slug}/sharing/").content.decode()
    # The thing's own connections went with it (the buyer may grant them anew); the seller's grants did not.
    assert 'data-testid="grants"' not in page and "No grants" in page and "Nothing sent yet" in page
    assert client_for(alice).get(f"/things/{grinder.slug}/sharing/").status_code == 404
