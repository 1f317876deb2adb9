"""Only the move that froze a twin (confirmed, in flight) thaws it when cancelled: anyone may ask a host to move
anyone's thing, so cancelling such a request (never confirmed) must not reopen a thing whose real move is on its
way (review finding 19)."""

from __future__ import annotations

import pytest

from moves import services
from moves.models import MoveOut
from tests.moves.conftest import confirm
from twins.models import Twin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_database_parts")]


def test_cancelling_a_strangers_request_does_not_thaw_a_thing_whose_move_is_in_flight(
    roles, alice, bob, carol, grinder, no_worker
):
    bobs = services.move_request(owner=bob, source=grinder.did)
    confirm(move_out=MoveOut.objects.get(remote_id=bobs.public_id), by=alice)
    assert Twin.objects.get(pk=grinder.pk).leaving_to

    strangers = services.move_request(owner=carol, source=grinder.did)
    theirs = MoveOut.objects.get(remote_id=strangers.public_id)
    assert theirs.state == MoveOut.State.REQUESTED
    services.cancel_received(move=theirs)  # the stranger calls off their own request, as the API lets them
    assert Twin.objects.get(pk=grinder.pk).leaving_to  # still on its way: nothing may be written
    services.move_cancel(move=theirs, by=alice)  # nor does the owner's cancel of the other request thaw it
    assert Twin.objects.get(pk=grinder.pk).leaving_to
