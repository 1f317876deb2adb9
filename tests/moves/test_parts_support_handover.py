"""The support part of a move (the owner's cases about the thing, every message, over the twin agent's
connection as the didcomm part restored it), and handovers: nothing of them travels, a pending one that holds the
thing is cancelled on the old host when the thing moves away."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest
from django.utils import timezone

from handover.models import Handover
from handover.services import handover_create
from ssi.keys import SigningKey
from support.models import Case, CaseMessage
from support.portability import export
from tests.didcomm.endpoints import closed_port, completed_connection
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    assert_portable,
    mover,
    on_a,
    release,
)
from twins import portability
from twins import services as twin_services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_a")]


@pytest.fixture
def supported(alice, grinder):
    """A case about the grinder over its agent's connection with Acme: alice's question, Acme's answer (read)."""
    connection = completed_connection(
        twin=grinder,
        peer=SigningKey.generate(),
        their_label="Acme support",
        their_did="did:peer:2.Vz6MkSupportExample",
        their_endpoint=f"http://127.0.0.1:{closed_port()}/",
    )
    case = Case.objects.create(
        side=Case.Side.OWNER,
        thread_id="thread-1",
        connection=connection,
        subject="It squeaks",
        owner=alice,
        twin=grinder,
        peer_label="Acme support",
        thing={"model": "Grindmaster 3000", "serial": "G-1"},
        status=Case.Status.WAITING,
    )
    CaseMessage.objects.create(
        case=case, message_id="thread-1", kind="open", incoming=False, author=alice, text="It squeaks."
    )
    CaseMessage.objects.create(
        case=case,
        message_id="msg-2",
        kind="ask",
        incoming=True,
        author_label="Olga at Acme",
        text="Which setting?",
        asks=["readings"],
        read_at=timezone.now(),
    )
    return grinder


def _drop_cases(owner):
    """A's copy of the case (it stays on the source, in the owner's list there; here, one database)."""
    return lambda: Case.objects.filter(owner=owner).delete()


@pytest.mark.needs("support", "didcomm")
def test_cases_and_messages_come_back_equal_for_the_new_owner(mover, supported, alice, bob):
    before = export(supported)
    assert len(before) == 1 and len(before[0]["messages"]) == 2
    _, moved = mover(supported, to_owner=bob, delete=_drop_cases(alice))
    after = export(moved)
    strip = lambda cases: [{k: v for k, v in case.items() if k != "connection"} for case in cases]  # noqa: E731
    assert strip(after) == strip(before)
    case = Case.objects.get(twin=moved)
    assert case.owner == bob and case.messages.get(message_id="thread-1").author == bob
    if "didcomm" in portability._PARTS:
        assert case.connection.their_did == "did:peer:2.Vz6MkSupportExample"
        assert case.connection.agent.twin_id == moved.pk


@pytest.mark.needs("support", "didcomm")
def test_support_is_json_and_holds_no_sealed_blob_of_ours(mover, supported, alice, bob):
    package, _ = mover(supported, to_owner=bob, delete=_drop_cases(alice))
    assert_portable(package, "support")


@pytest.mark.needs("handover")
def test_a_pending_handover_holding_the_thing_is_cancelled_when_it_moves_away(alice, grinder, bob):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    handover = handover_create(seller=alice, twins=[grinder, kettle], redact_kinds=[])
    other = handover_create(seller=alice, twins=[twin_services.twin_create(owner=alice, name="Lamp")], redact_kinds=[])
    release(grinder, to=bob)
    handover.refresh_from_db()
    assert handover.status == Handover.Status.CANCELLED and handover.cancelled_at is not None
    assert not handover.things.filter(open=True).exists()
    other.refresh_from_db()
    assert other.status == Handover.Status.OPEN  # one without the thing stays open


@pytest.mark.needs("handover")
def test_handovers_contribute_nothing_to_the_package(mover, alice, grinder, bob):
    handover_create(seller=alice, twins=[grinder], redact_kinds=[])
    package, _ = mover(grinder, to_owner=bob)
    assert "handover" not in package["parts"]
