"""Cancelling, on either side, at each point before the source lets go: the thing stays live on the source, and an
arrival on the destination is discarded. After the source let go, a cancel is refused on both sides."""

from __future__ import annotations

import pytest

from moves import services
from moves.models import MoveIn, MoveOut
from moves.services import MoveRefused
from tests.moves.conftest import confirm, make_room
from twins.models import Twin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_database_parts", "no_worker")]


@pytest.fixture
def arrived(roles, alice, bob, grinder) -> tuple[MoveIn, MoveOut]:
    """A move whose package arrived on the destination (not live there); the source has not let go."""
    move_in = services.move_request(owner=bob, source=grinder.did)
    move_out = MoveOut.objects.get(remote_id=move_in.public_id)
    confirm(move_out=move_out, by=alice)
    make_room(grinder)
    assert services.moves_resume() == 1
    move_in.refresh_from_db()
    move_out.refresh_from_db()
    assert (move_in.state, move_out.state) == (MoveIn.State.ARRIVED, MoveOut.State.PUSHED)
    return move_in, move_out


def test_a_cancel_on_the_source_after_arrival_discards_the_arrival(arrived, alice, grinder):
    move_in, move_out = arrived
    arriving_pk = move_in.twin_id
    services.move_cancel(move=move_out, by=alice)
    assert services.moves_resume() == 1  # the destination announces; the source answers 410
    move_in.refresh_from_db()
    assert move_in.state == MoveIn.State.CANCELLED and "old host" in move_in.error
    assert not Twin.objects.filter(pk=arriving_pk).exists()
    assert Twin.objects.get(pk=grinder.pk).moved_to == ""


def test_a_cancel_on_the_destination_after_arrival_asks_the_source_first(arrived, bob, grinder):
    move_in, move_out = arrived
    arriving_pk = move_in.twin_id
    services.move_cancel(move=move_in, by=bob)
    move_in.refresh_from_db()
    move_out.refresh_from_db()
    assert move_in.state == MoveIn.State.CANCELLED and move_out.state == MoveOut.State.CANCELLED
    assert not Twin.objects.filter(pk=arriving_pk).exists()
    assert Twin.objects.get(pk=grinder.pk).moved_to == ""
    assert services.moves_resume() == 0


def test_after_the_source_let_go_neither_side_can_cancel(arrived, alice, bob):
    move_in, move_out = arrived
    # The source lets go, but its answer is lost (the destination still says arrived).
    services.arrival_received(move=move_out, sha256=move_in.sha256)
    with pytest.raises(MoveRefused, match="has moved already"):
        services.move_cancel(move=move_out, by=alice)
    with pytest.raises(MoveRefused, match="let go already"):
        services.move_cancel(move=move_in, by=bob)
    move_in.refresh_from_db()
    assert move_in.state == MoveIn.State.ARRIVED
    assert services.moves_resume() == 1  # the destination asks again, hears 200, and goes live
    move_in.refresh_from_db()
    assert move_in.state == MoveIn.State.DONE and not move_in.twin.arriving


def test_a_cancel_on_the_destination_before_confirmation_reaches_the_source(roles, bob, grinder):
    move_in = services.move_request(owner=bob, source=grinder.did)
    services.move_cancel(move=move_in, by=bob)
    services.move_cancel(move=move_in, by=bob)  # again: nothing more
    assert MoveIn.objects.get(pk=move_in.pk).state == MoveIn.State.CANCELLED
    assert MoveOut.objects.get(remote_id=move_in.public_id).state == MoveOut.State.CANCELLED


def test_a_push_to_a_destination_that_cancelled_ends_the_move_on_the_source(roles, alice, bob, grinder):
    move_in = services.move_request(owner=bob, source=grinder.did)
    move_out = MoveOut.objects.get(remote_id=move_in.public_id)
    # The destination's cancel never reached the source.
    MoveIn.objects.filter(pk=move_in.pk).update(state=MoveIn.State.CANCELLED)
    confirm(move_out=move_out, by=alice)
    assert services.moves_resume() == 1
    move_out.refresh_from_db()
    assert move_out.state == MoveOut.State.CANCELLED and move_out.error == "Cancelled on the new host."
    assert move_out.sealed is None  # nothing of the package stays behind
    assert Twin.objects.get(pk=grinder.pk).moved_to == ""
