"""Grant services: nothing is shared by default; granting, changing and revoking are signed history entries whose
chain verifies; a grant goes only to a party the owner controls, on a thing the owner holds; revoking, a transfer
and a deactivation stop at once everything not yet delivered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import vault
from core.errors import Conflict
from sharing import grants
from sharing.models import Grant, OutboxItem, WebhookEndpoint
from ssi.keys import SigningKey
from tests.didcomm.endpoints import completed_connection
from twins import services as twin_services
from twins import transfer
from twins.models import HistoryEntry
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db


def grant_entries(twin) -> list[dict]:
    return [
        entry.entry["content"]
        for entry in HistoryEntry.objects.filter(twin=twin, kind=HistoryEntry.Kind.GRANT).order_by("seq")
    ]


def test_nothing_is_shared_by_default(grinder):
    twin_services.reading_add(twin=grinder, value=1)
    assert not Grant.objects.exists() and not OutboxItem.objects.exists()


def test_granting_changing_and_revoking_are_history_entries_and_the_chain_verifies(alice, grinder, connection):
    grant = grants.grant_create(twin=grinder, party=connection, kinds=["readings:temperature", "scans"], by=alice)
    until = timezone.now() + timedelta(days=30)
    grants.grant_update(grant=grant, by=alice, kinds=["readings"], expires_at=until)
    grants.grant_revoke(grant=grant, by=alice)
    entries = grant_entries(grinder)
    assert [e["action"] for e in entries] == ["grant", "change", "revoke"]
    assert entries[0]["kinds"] == ["readings:temperature", "scans"] and entries[0]["until"] is None
    assert entries[0]["party"] == {"type": "didcomm", "label": "Acme Grinders", "did": "did:peer:2.Vz6MkAcmeExample"}
    assert entries[1]["kinds"] == ["readings"] and entries[1]["until"] == until.isoformat()
    assert entries[2]["reason"] == "owner"
    result = verify_twin(grinder)
    assert result.ok, result.problem


def test_one_grant_per_twin_for_a_list_of_twins_each_in_its_own_history(alice, grinder, connection):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    made = grants.grant_create(twins=[grinder, kettle], party=connection, kinds=["usage"], by=alice)
    assert sorted(g.twin_id for g in made) == sorted([grinder.pk, kettle.pk])
    assert len(grant_entries(grinder)) == 1 and len(grant_entries(kettle)) == 1
    assert verify_twin(kettle).ok


def test_a_bulk_grant_including_someone_elses_thing_grants_nothing(alice, bob, grinder, connection):
    bobs = twin_services.twin_create(owner=bob, name="Bob's bike")
    with pytest.raises(Conflict):
        grants.grant_create(twins=[grinder, bobs], party=connection, kinds=["usage"], by=alice)
    assert not Grant.objects.exists()
    assert grant_entries(grinder) == []


def test_an_owner_cannot_grant_on_someone_elses_thing(carol, grinder):
    carols_endpoint, _ = grants.webhook_endpoint_create(owner=carol, label="Carol's", url="http://127.0.0.1:9/x")
    with pytest.raises(Conflict):
        grants.grant_create(twin=grinder, party=carols_endpoint, kinds=["readings"], by=carol)
    assert not Grant.objects.exists()


def test_an_owner_cannot_grant_to_someone_elses_connection_or_endpoint(alice, carol, grinder):
    carols_thing = twin_services.twin_create(owner=carol, name="Carol's lamp")
    carols_connection = completed_connection(twin=carols_thing, peer=SigningKey.generate(), their_label="Carol's pal")
    carols_endpoint, _ = grants.webhook_endpoint_create(owner=carol, label="Carol's", url="http://127.0.0.1:9/x")
    with pytest.raises(ValidationError) as exc:
        grants.grant_create(twin=grinder, party=carols_connection, kinds=["readings"], by=alice)
    assert "connection" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        grants.grant_create(twin=grinder, party=carols_endpoint, kinds=["readings"], by=alice)
    assert "endpoint" in exc.value.message_dict
    assert not Grant.objects.exists()


def test_a_connection_not_completed_cannot_be_granted(alice, grinder, connection):
    connection.state = connection.State.REQUESTED
    connection.save()
    with pytest.raises(ValidationError):
        grants.grant_create(twin=grinder, party=connection, kinds=["readings"], by=alice)


def test_the_owners_own_agents_connections_can_be_granted(alice, grinder):
    from didcomm import keys, services
    from didcomm.models import Connection

    own = Connection(agent=services.agent_for_owner(alice), state=Connection.State.COMPLETED, their_verkey="x" * 43)
    keys.pairwise_key_create(connection=own)
    own.save()
    grant = grants.grant_create(twin=grinder, party=own, kinds=["journal"], by=alice)
    assert grant.connection == own


@pytest.mark.parametrize(
    ("kinds", "says"),
    [
        ([], "at least one"),
        (["secrets"], "not a data kind"),
        (["readings:"], "name the reading kind"),
        ("scans", "list"),
    ],
)
def test_bad_kinds_are_refused_with_what_is_accepted(alice, grinder, connection, kinds, says):
    with pytest.raises(ValidationError) as exc:
        grants.grant_create(twin=grinder, party=connection, kinds=kinds, by=alice)
    assert says in " ".join(exc.value.message_dict["kinds"])


def test_an_expiry_in_the_past_is_refused(alice, grinder, connection):
    with pytest.raises(ValidationError) as exc:
        grants.grant_create(
            twin=grinder, party=connection, kinds=["readings"], expires_at=timezone.now() - timedelta(1), by=alice
        )
    assert "future" in exc.value.message_dict["expires_at"][0]


def test_a_second_active_grant_to_the_same_party_is_a_conflict(alice, grinder, connection, grant):
    with pytest.raises(grants.GrantExists):
        grants.grant_create(twin=grinder, party=connection, kinds=["scans"], by=alice)
    grants.grant_revoke(grant=grant, by=alice)
    assert grants.grant_create(twin=grinder, party=connection, kinds=["scans"], by=alice).kinds == ["scans"]


def test_revoking_cancels_what_was_not_yet_delivered_in_the_same_transaction(alice, grinder, grant):
    twin_services.reading_add(twin=grinder, value=1)
    OutboxItem.objects.create(
        grant=grant, twin=grinder, kind="readings", status=OutboxItem.Status.PENDING, window_ends_at=timezone.now()
    )
    delivered = OutboxItem.objects.create(
        grant=grant, twin=grinder, kind="readings", status=OutboxItem.Status.DELIVERED, window_ends_at=timezone.now()
    )
    grants.grant_revoke(grant=grant, by=alice)
    statuses = dict(OutboxItem.objects.values_list("pk", "status"))
    assert statuses.pop(delivered.pk) == OutboxItem.Status.DELIVERED
    assert set(statuses.values()) == {OutboxItem.Status.CANCELLED} and len(statuses) == 2
    twin_services.reading_add(twin=grinder, value=2)
    assert OutboxItem.objects.count() == 3  # nothing new under a revoked grant


def test_revoking_twice_records_one_entry(alice, grinder, grant):
    grants.grant_revoke(grant=grant, by=alice)
    grants.grant_revoke(grant=grant, by=alice)
    assert [e["action"] for e in grant_entries(grinder)] == ["grant", "revoke"]


def test_narrowing_a_grant_drops_what_it_no_longer_covers_from_unsent_items(alice, grinder, connection):
    grant = grants.grant_create(twin=grinder, party=connection, kinds=["readings", "journal"], by=alice)
    twin_services.reading_add(twin=grinder, value=1, kind="temperature")
    twin_services.reading_add(twin=grinder, value=50, kind="humidity")
    twin_services.note_create(twin=grinder, title="Descaled")
    grants.grant_update(grant=grant, by=alice, kinds=["readings:temperature"])
    readings = OutboxItem.objects.get(kind="readings")
    assert [i["kind"] for i in readings.payload["items"]] == ["temperature"] and readings.count == 1
    assert OutboxItem.objects.get(kind="journal").status == OutboxItem.Status.CANCELLED


def test_an_ended_grant_cannot_be_changed(alice, grinder, grant):
    grants.grant_revoke(grant=grant, by=alice)
    with pytest.raises(grants.GrantEnded):
        grants.grant_update(grant=grant, by=alice, kinds=["scans"])


def test_a_transfer_ends_every_grant_and_cancels_its_unsent_items(alice, bob, grinder, connection, endpoint):
    to_party = grants.grant_create(twin=grinder, party=connection, kinds=["readings"], by=alice)
    to_endpoint = grants.grant_create(twin=grinder, party=endpoint, kinds=["readings"], by=alice)
    twin_services.reading_add(twin=grinder, value=1)
    assert OutboxItem.objects.filter(status=OutboxItem.Status.OPEN).count() == 2
    offer = transfer.offer_create(twin=grinder, seller=alice, redact_kinds=[])
    transfer.offer_accept(offer=offer, buyer=bob)
    for grant in (to_party, to_endpoint):
        grant.refresh_from_db()
        assert grant.revoked_at is not None and grant.revoked_reason == "transfer"
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {OutboxItem.Status.CANCELLED}
    grinder.refresh_from_db()
    twin_services.reading_add(twin=grinder, value=2)  # the buyer's reading: nobody receives it
    assert OutboxItem.objects.count() == 2
    assert [e["action"] for e in grant_entries(grinder)][-2:] == ["revoke", "revoke"]
    assert verify_twin(grinder).ok


def test_a_deactivation_ends_every_grant(alice, grinder, grant):
    twin_services.reading_add(twin=grinder, value=1)
    twin_services.twin_deactivate(twin=grinder)
    grant.refresh_from_db()
    assert grant.revoked_reason == "deactivated"
    assert OutboxItem.objects.get().status == OutboxItem.Status.CANCELLED


# --- Webhook endpoints --------------------------------------------------------------------------------------------


def test_an_endpoints_secret_is_returned_once_and_kept_sealed(alice):
    endpoint, secret = grants.webhook_endpoint_create(owner=alice, label="Insurer", url="http://127.0.0.1:9/h")
    assert secret.startswith("whsec_")
    stored = bytes(WebhookEndpoint.objects.get(pk=endpoint.pk).secret_sealed)
    assert secret.encode() not in stored and vault.unseal(stored).decode() == secret


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://93.184.215.14/hook", "https"),
        ("https://127.0.0.1/hook", "private network"),
        ("https://10.1.2.3/hook", "private network"),
        ("https://169.254.169.254/latest", "private network"),
        ("https://[::1]/hook", "private network"),
        ("https://user:pw@93.184.215.14/hook", "passwords"),
        ("ftp://93.184.215.14/x", "https://"),
        ("not a url", "https://"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_in_production_endpoint_urls_must_be_https_and_public(alice, settings, url, says):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ValidationError) as exc:
        grants.webhook_endpoint_create(owner=alice, label="X", url=url)
    assert says in exc.value.message_dict["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_in_production_a_public_https_endpoint_is_taken(alice, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    endpoint, _ = grants.webhook_endpoint_create(owner=alice, label="X", url="https://93.184.215.14/hook")
    assert endpoint.url == "https://93.184.215.14/hook"


def test_deleting_an_endpoint_revokes_its_grants_in_the_history(alice, grinder, endpoint):
    grants.grant_create(twin=grinder, party=endpoint, kinds=["scans"], by=alice)
    grants.webhook_endpoint_delete(endpoint=endpoint, by=alice)
    assert not WebhookEndpoint.objects.exists() and not Grant.objects.exists()
    entries = grant_entries(grinder)
    assert [e["action"] for e in entries] == ["grant", "revoke"] and entries[1]["reason"] == "endpoint deleted"
    assert entries[0]["party"]["url"] == endpoint.url.rsplit("/", 1)[0]  # the origin, not the path
    assert verify_twin(grinder).ok


def test_a_disabled_endpoint_receives_nothing_until_enabled_again(alice, grinder, endpoint):
    grants.grant_create(twin=grinder, party=endpoint, kinds=["readings"], by=alice)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=timezone.now(), disabled_reason="410 Gone")
    twin_services.reading_add(twin=grinder, value=1)
    assert not OutboxItem.objects.exists()
    grants.webhook_endpoint_enable(endpoint=endpoint, by=alice)
    twin_services.reading_add(twin=grinder, value=2)
    assert OutboxItem.objects.get().count == 1


@pytest.mark.parametrize("state", ["leaving", "moved"])
def test_stopping_all_sharing_with_a_party_works_when_one_thing_is_moving_or_moved(alice, grinder, endpoint, state):
    from twins import leaving
    from twins.models import Twin

    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    grants.grant_create(twins=[grinder, kettle], party=endpoint, kinds=["scans"], by=alice)
    if state == "leaving":
        leaving.freeze(kettle, destination_url="https://b.example")
    else:
        Twin.objects.filter(pk=kettle.pk).update(moved_to="https://b.example", leaving_to="https://b.example")
    assert grants.grants_revoke_party(party=endpoint, by=alice) == 2
    assert not Grant.objects.filter(revoked_at__isnull=True).exists()  # neither thing sends to the party any more
    assert [e["action"] for e in grant_entries(grinder)] == ["grant", "revoke"]
    assert [e["action"] for e in grant_entries(kettle)] == ["grant"]  # its history is closed here
    grants.webhook_endpoint_delete(endpoint=endpoint, by=alice)  # and the endpoint goes too
    assert not WebhookEndpoint.objects.exists()
