"""Real concurrent transactions on PostgreSQL: the source's last step raced against itself and against a cancel.
Whatever interleaving happens, the thing ends up let go once, or not at all, never both.

SQLite serialises writers, so the races only mean something on PostgreSQL (the PostgreSQL pass runs them).
"""

from __future__ import annotations

import pytest
from django.db import connection

from moves import services
from moves.models import MoveIn, MoveOut
from tests.conftest import run_together
from tests.moves.conftest import confirm, make_room
from twins.identity import log_state
from twins.models import Twin

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("one_database_parts", "no_worker"),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL"
    ),
]


@pytest.fixture
def pushed(roles, alice, bob, grinder) -> tuple[MoveIn, MoveOut, int]:
    """A move whose package arrived on the destination; the source has not let go. And the source log's length."""
    move_in = services.move_request(owner=bob, source=grinder.did)
    move_out = MoveOut.objects.get(remote_id=move_in.public_id)
    versions = len(log_state(grinder).versions)
    confirm(move_out=move_out, by=alice)
    make_room(grinder)
    services.moves_resume()
    move_in.refresh_from_db()
    move_out.refresh_from_db()
    assert (move_in.state, move_out.state) == (MoveIn.State.ARRIVED, MoveOut.State.PUSHED)
    return move_in, move_out, versions


def test_two_arrival_calls_at_once_let_go_once_and_both_hear_done(pushed, grinder):
    move_in, move_out, versions = pushed
    outcomes = run_together(
        lambda: services.arrival_received(move=move_out, sha256=move_in.sha256).state,
        lambda: services.arrival_received(move=move_out, sha256=move_in.sha256).state,
    )
    assert outcomes == [("ok", MoveOut.State.DONE), ("ok", MoveOut.State.DONE)]
    source = Twin.objects.get(pk=grinder.pk)
    assert source.moved_to and len(log_state(source).versions) == versions + 2


def test_an_arrival_and_a_cancel_at_once_end_one_way_only(pushed, alice, grinder):
    move_in, move_out, versions = pushed
    outcomes = run_together(
        lambda: services.arrival_received(move=move_out, sha256=move_in.sha256).state,
        lambda: services.move_cancel(move=move_out, by=alice),
    )
    arrival, cancel = outcomes
    state = MoveOut.objects.get(pk=move_out.pk).state
    source = Twin.objects.get(pk=grinder.pk)
    if state == MoveOut.State.DONE:
        assert arrival == ("ok", MoveOut.State.DONE)
        assert cancel[0] == "error" and "moved already" in str(cancel[1])
        assert source.moved_to and len(log_state(source).versions) == versions + 2
    else:
        assert state == MoveOut.State.CANCELLED and cancel == ("ok", None)
        assert arrival[0] == "error" and getattr(arrival[1], "status", None) == 410
        assert source.moved_to == "" and len(log_state(source).versions) == versions


def test_two_confirmations_of_two_requests_at_once_queue_and_one_wins(alice, grinder):
    from tests.moves.conftest import request_body

    one, _ = services.request_received(request_body(did=grinder.did))
    two, _ = services.request_received(request_body(did=grinder.did))
    outcomes = run_together(lambda: confirm(move_out=one, by=alice), lambda: confirm(move_out=two, by=alice))
    errors = [repr(value) for kind, value in outcomes if kind == "error"]
    assert not any("deadlock" in error.lower() for error in errors), errors  # before: one click got a 500
    states = sorted(MoveOut.objects.filter(pk__in=[one.pk, two.pk]).values_list("state", flat=True))
    assert states == sorted([MoveOut.State.CONFIRMED, MoveOut.State.CANCELLED])
