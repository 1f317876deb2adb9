"""moves.steps.end on the source: a move that failed or was cancelled thaws its twin (it takes writes again), but
only when that outcome was recorded and no other move of the twin is on its way (review finding 3: a late failure
of a cancelled move's push must not unfreeze a twin whose next move's package is sealed)."""

from __future__ import annotations

import pytest

from moves import services, steps
from moves.models import MoveOut
from tests.moves.conftest import confirm, request_body
from twins.models import Twin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_worker")]


def test_a_late_failure_of_a_cancelled_push_leaves_the_next_move_frozen(grinder, alice):
    first, _ = services.request_received(request_body(did=grinder.did))
    confirm(move_out=first, by=alice)
    in_flight = steps.claim(MoveOut, first.pk, (MoveOut.State.CONFIRMED,))  # a worker is pushing it (slow peer)
    assert in_flight is not None
    services.move_cancel(move=MoveOut.objects.get(pk=first.pk), by=alice)  # the owner changes their mind ...
    second, _ = services.request_received(request_body(did=grinder.did))
    confirm(move_out=second, by=alice)  # ... and confirms another move: frozen again
    assert Twin.objects.get(pk=grinder.pk).leaving_to == "https://b.example"

    steps.end(in_flight, MoveOut.State.FAILED, "refused by the peer")  # the first push's peer answers at last

    assert MoveOut.objects.get(pk=first.pk).state == MoveOut.State.CANCELLED
    assert MoveOut.objects.get(pk=second.pk).state == MoveOut.State.CONFIRMED
    assert Twin.objects.get(pk=grinder.pk).leaving_to == "https://b.example"  # still frozen: nothing stays behind


def test_a_failed_push_thaws_its_twin(grinder, alice):
    move, _ = services.request_received(request_body(did=grinder.did))
    confirm(move_out=move, by=alice)
    claimed = steps.claim(MoveOut, move.pk, (MoveOut.State.CONFIRMED,))
    steps.end(claimed, MoveOut.State.FAILED, "refused by the peer")
    assert MoveOut.objects.get(pk=move.pk).state == MoveOut.State.FAILED
    assert Twin.objects.get(pk=grinder.pk).leaving_to == ""
