"""The sharing part of a move: grants with their kinds and expiry, the outbox and delivery log with the same message
ids, and the webhook endpoints the grants use, copied to the destination owner with their secret sealed again."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from core import vault
from sharing import grants
from sharing.attempts import due
from sharing.models import Grant, Introduction, OutboxItem, WebhookEndpoint
from sharing.portability import HELD, export
from tests.didcomm.endpoints import closed_port
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    assert_portable,
    delete_twin,
    mover,
    on_a,
    release,
    through_json,
)
from tests.sharing.conftest import connection, endpoint, endpoint_and_secret, peer  # noqa: F401 (fixtures)
from twins import moving, portability
from twins import services as twin_services

pytestmark = [pytest.mark.django_db, pytest.mark.needs("sharing", "didcomm"), pytest.mark.usefixtures("on_a")]


def _item(grant: Grant, status: str, **fields) -> OutboxItem:
    return OutboxItem.objects.create(
        grant=grant,
        twin=grant.twin,
        kind="readings",
        payload={"items": [{"value": 1}]},
        count=1,
        status=status,
        window_ends_at=timezone.now() - timedelta(minutes=1),
        **fields,
    )


@pytest.fixture
def shared(alice, grinder, endpoint, connection):
    """A webhook grant with an expiry and three outbox items (delivered, being sent, failed); a grant over the
    twin agent's connection, revoked."""
    hook = grants.grant_create(
        twin=grinder,
        party=endpoint,
        kinds=["readings", "scans"],
        expires_at=timezone.now() + timedelta(days=30),
        by=alice,
    )
    _item(hook, OutboxItem.Status.DELIVERED, attempts=1, last_status_code=200, delivered_at=timezone.now())
    _item(hook, OutboxItem.Status.SENDING, attempts=2, next_attempt_at=timezone.now() + timedelta(seconds=30))
    _item(hook, OutboxItem.Status.FAILED, attempts=8, last_status_code=500, last_error="HTTP 500")
    over_didcomm = grants.grant_create(twin=grinder, party=connection, kinds=["journal"], by=alice)
    grants.grant_revoke(grant=over_didcomm, by=alice)
    Introduction.objects.create(
        twin=grinder,
        owner=alice,
        party_connection=connection,
        party_label="Acme Grinders",
        asks_for=["readings"],
        thread_id="intro-thread-1",
        state=Introduction.State.PROPOSED,
        thing_gtin="09506000134352",
        thing_serial="G-1",
    )
    return grinder


def _held(item: dict) -> dict:
    """An item as it arrives: undelivered ones pending and held until the twin is live."""
    item = {k: v for k, v in item.items() if k != "grant"}
    if item["status"] in ("open", "pending", "sending"):
        item.update(status="pending", next_attempt_at=HELD.isoformat())
    return item


def _comparable(data: dict) -> dict:
    """The part's data without the source's primary keys, and with a 'sending' item as the pending one it becomes."""
    out = {
        "endpoints": [{k: v for k, v in e.items() if k != "id"} for e in data["endpoints"]],
        "grants": [{k: v for k, v in g.items() if k not in ("id", "connection", "endpoint")} for g in data["grants"]],
        "outbox": [_held(i) for i in data["outbox"]],
        "introductions": [
            {k: v for k, v in i.items() if k not in ("party_connection", "owner_connection")}
            for i in data["introductions"]
        ],
    }
    return out


def _didcomm_moves() -> bool:
    return "didcomm" in portability._PARTS


def test_grants_outbox_and_endpoint_come_back_equal_for_the_new_owner(mover, shared, alice, bob):
    before = export(shared)
    assert len(before["grants"]) == 2 and len(before["outbox"]) == 3
    message_ids = sorted(item["message_id"] for item in before["outbox"])
    _, moved = mover(shared, to_owner=bob)
    after = export(moved)
    if not _didcomm_moves():  # the grant and introduction over the twin agent's connection need the didcomm part
        before["grants"] = [g for g in before["grants"] if g["endpoint"] is not None]
        before["introductions"] = []
    assert _comparable(after) == _comparable(before)
    assert sorted(str(m) for m in OutboxItem.objects.filter(twin=moved).values_list("message_id", flat=True)) == (
        message_ids
    )
    assert not OutboxItem.objects.filter(twin=moved, status=OutboxItem.Status.SENDING).exists()


def test_what_was_not_delivered_waits_until_the_thing_is_live_here_then_goes_out(mover, shared, bob):
    _, moved = mover(shared, to_owner=bob)
    waiting = OutboxItem.objects.filter(twin=moved, status=OutboxItem.Status.PENDING)
    assert waiting.count() == 1 and waiting.get().next_attempt_at == HELD
    assert not OutboxItem.objects.filter(due(timezone.now()), twin=moved).exists()
    with TestCase.captureOnCommitCallbacks(execute=True):
        moving.activate(moved)
    assert OutboxItem.objects.filter(due(timezone.now()), twin=moved).count() == 1


def test_on_the_old_host_what_still_waited_is_cancelled_when_the_thing_moves_away(shared, bob):
    _item(Grant.objects.get(twin=shared, endpoint__isnull=False), OutboxItem.Status.PENDING)
    release(shared, to=bob)
    statuses = sorted(OutboxItem.objects.filter(twin=shared).values_list("status", flat=True))
    assert statuses == ["cancelled", "delivered", "failed", "sending"]  # a send under way is left to finish
    cancelled = OutboxItem.objects.get(twin=shared, status="cancelled")
    assert "moved to https://b.example.com" in cancelled.last_error


def test_the_endpoint_is_copied_to_the_new_owner_with_its_secret_sealed_again(
    mover, shared, alice, bob, endpoint_and_secret
):
    original, secret = endpoint_and_secret
    _, moved = mover(shared, to_owner=bob)
    copy = WebhookEndpoint.objects.get(owner=bob)
    assert copy.pk != original.pk and copy.url == original.url and copy.label == original.label
    assert vault.unseal(copy.secret_sealed).decode() == secret
    grant = Grant.objects.get(twin=moved, endpoint__isnull=False)
    assert grant.endpoint == copy and grant.created_by == bob
    assert WebhookEndpoint.objects.filter(owner=alice).count() == 1  # the source owner's own stays theirs


def test_a_second_thing_over_the_same_endpoint_reuses_the_copy(mover, shared, alice, bob, endpoint):
    other = twin_services.twin_create(owner=alice, name="Kettle")
    grants.grant_create(twin=other, party=endpoint, kinds=["readings"], by=alice)
    mover(shared, to_owner=bob)
    mover(other, to_owner=bob)
    assert WebhookEndpoint.objects.filter(owner=bob).count() == 1
    assert Grant.objects.filter(endpoint__owner=bob).count() == 2


def test_a_grant_over_the_twin_agents_connection_follows_the_connection(mover, shared, bob, connection):
    if not _didcomm_moves():
        pytest.skip("the didcomm part (move-didcomm) is not registered yet")
    their_did = connection.their_did
    _, moved = mover(shared, to_owner=bob)
    grant = Grant.objects.get(twin=moved, connection__isnull=False)
    assert grant.connection.their_did == their_did and grant.connection.agent.twin_id == moved.pk
    assert grant.revoked_at is not None and grant.kinds == ["journal"]
    intro = Introduction.objects.get(twin=moved)
    assert intro.party_connection == grant.connection and intro.owner == bob and intro.thread_id == "intro-thread-1"


def test_the_package_is_json_and_holds_no_sealed_blob_of_ours(mover, shared, bob):
    package, _ = mover(shared, to_owner=bob)
    assert_portable(package, "sharing")
    assert package["parts"]["sharing"]["endpoints"][0]["secret"]


def test_a_message_id_already_here_refuses_the_package(mover, shared, alice, bob):
    taken = str(OutboxItem.objects.filter(twin=shared).first().message_id)

    def taken_here() -> None:
        other = twin_services.twin_create(owner=alice, name="Kettle")
        hook = WebhookEndpoint.objects.create(
            owner=alice, label="x", url=f"http://127.0.0.1:{closed_port()}/", secret_sealed=vault.seal(b"s")
        )
        item = _item(Grant.objects.create(twin=other, endpoint=hook, kinds=["readings"]), OutboxItem.Status.DELIVERED)
        OutboxItem.objects.filter(pk=item.pk).update(message_id=uuid.UUID(taken))

    with pytest.raises(portability.PackageError):
        mover(shared, to_owner=bob, delete=taken_here)
    assert not WebhookEndpoint.objects.filter(owner=bob).exists()


def test_a_grant_over_the_owners_own_agent_stays_behind_with_that_agent(mover, alice, grinder, bob):
    from didcomm import keys
    from didcomm.models import Connection
    from didcomm.services import agent_for_owner
    from ssi.keys import SigningKey
    from tests.didcomm.endpoints import verkey

    mine = Connection(
        agent=agent_for_owner(alice),
        state=Connection.State.COMPLETED,
        their_verkey=verkey(SigningKey.generate()),
        their_label="Alice's insurer",
        their_did="did:peer:2.Vz6MkInsurerExample",
        their_endpoint=f"http://127.0.0.1:{closed_port()}/",
    )
    keys.pairwise_key_create(connection=mine)
    grant = grants.grant_create(twin=grinder, party=mine, kinds=["readings"], by=alice)
    _item(grant, OutboxItem.Status.PENDING)
    _, moved = mover(grinder, to_owner=bob)
    assert not Grant.objects.filter(twin=moved).exists()
    assert not OutboxItem.objects.filter(twin=moved).exists()


def test_a_package_brings_at_most_max_held_notifications_to_send_and_the_rest_as_dead_letters(mover, shared, bob):
    import uuid

    from sharing import portability as sharing_part

    def flood(package: dict) -> None:
        outbox = package["parts"]["sharing"]["outbox"]
        waiting = next(item for item in outbox if item["status"] == OutboxItem.Status.SENDING)
        outbox += [dict(waiting, message_id=str(uuid.uuid4())) for _ in range(sharing_part.MAX_HELD + 20)]

    _, moved = mover(shared, to_owner=bob, tamper=flood)
    assert OutboxItem.objects.filter(twin=moved, status=OutboxItem.Status.PENDING).count() == sharing_part.MAX_HELD
    dead = OutboxItem.objects.filter(twin=moved, last_error__startswith="Not sent after the move")
    assert dead.count() == 21 and not dead.exclude(status=OutboxItem.Status.FAILED).exists()


def test_a_move_carries_no_grant_endpoint_or_outbox_of_a_previous_owner(
    mover, shared, alice, bob, carol, endpoint_and_secret, django_capture_on_commit_callbacks
):
    """Review finding 9 (session 11): a sale leaves the seller's grants on the thing, ended, with their outbox, her
    introductions and her webhook endpoints (her receiver's URL and the secret it trusts as this instance). They
    are hers: a buyer's move carries only the buyer's."""
    from twins.models import Twin
    from twins.transfer import offer_accept, offer_create

    alices_endpoint, alices_secret = endpoint_and_secret
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer_create(twin=shared, seller=alice, redact_kinds=[]), buyer=bob)
    grinder = Twin.objects.get(pk=shared.pk)
    bobs_endpoint, bobs_secret = grants.webhook_endpoint_create(
        owner=bob, label="Bob's hub", url=f"http://127.0.0.1:{closed_port()}/bob"
    )
    bobs = grants.grant_create(twin=grinder, party=bobs_endpoint, kinds=["readings"], by=bob)
    _item(bobs, OutboxItem.Status.DELIVERED, attempts=1, last_status_code=200, delivered_at=timezone.now())

    data = export(grinder)
    assert [e["url"] for e in data["endpoints"]] == [bobs_endpoint.url]
    assert [g["endpoint"] for g in data["grants"]] == [bobs_endpoint.pk]
    assert [item["grant"] for item in data["outbox"]] == [bobs.pk]
    assert data["introductions"] == []

    package, moved = mover(grinder, to_owner=carol)
    text = json.dumps(package)
    assert alices_endpoint.url not in text and "intro-thread-1" not in text
    assert base64.b64encode(alices_secret.encode()).decode() not in text
    assert [vault.unseal(e.secret_sealed).decode() for e in WebhookEndpoint.objects.filter(owner=carol)] == [
        bobs_secret
    ]
    assert Grant.objects.filter(twin=moved).count() == 1
    assert not Introduction.objects.filter(twin=moved).exists()
    assert OutboxItem.objects.filter(twin=moved).count() == 1
