"""A move request is its confirmer's, whatever twin it points at now. After a return (A -> B -> A) the old A -> B
request's row points at the returned twin (twins.portability.give_way); if the thing changed hands on B, its new
owner here must not open the earlier owner's move, and the earlier owner's page does not show the new owner's
name for the thing (nor does the destination's record of a move once the thing changed hands there)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.vault import seal
from moves import bearer
from moves.models import MoveIn, MoveOut
from ssi import move as sealing
from tests.conftest import client_for
from tests.moves.conftest import request_body
from twins.models import Twin

pytestmark = pytest.mark.django_db

CLOSED = "http://127.0.0.1:1"
NEW_NAME = "Carol grinds here now"


def _asked(anon_api, twin: Twin) -> MoveOut:
    body = request_body(did=twin.did, destination=CLOSED, destination_did_domain="b.localhost:1")
    response = anon_api.post("/api/moves/requests", body, format="json")
    assert response.status_code == 201
    return MoveOut.objects.get(public_id=response.json()["id"])


@pytest.fixture
def moved_away(anon_api, grinder, alice) -> MoveOut:
    """Alice's grinder asked for by B, confirmed by alice and gone (as move_confirm and the release leave it)."""
    move = _asked(anon_api, grinder)
    now = timezone.now()
    MoveOut.objects.filter(pk=move.pk).update(
        state=MoveOut.State.DONE, confirmed_by=alice, confirmed_at=now, pushed_at=now, done_at=now
    )
    return move


def _came_back_under(twin: Twin, owner) -> None:
    """The return of a thing sold on B: the twin here (which the old rows point at) is its new owner's, named so."""
    Twin.objects.filter(pk=twin.pk).update(owner=owner, owner_since=timezone.now(), name=NEW_NAME)


def _page(owner, move: MoveOut):
    return client_for(owner).get(f"/moves/out/{move.public_id}/")


def test_the_new_owner_of_a_returned_thing_cannot_open_the_earlier_owners_move(moved_away, grinder, carol):
    _came_back_under(grinder, carol)
    assert _page(carol, moved_away).status_code == 404
    for action in ("confirm", "cancel"):
        assert client_for(carol).post(f"/moves/out/{moved_away.public_id}/{action}/").status_code == 404


def test_the_owner_who_moved_it_still_opens_it_and_does_not_see_the_new_owners_name(moved_away, grinder, alice, carol):
    _came_back_under(grinder, carol)
    page = _page(alice, moved_away)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="moved-away"' in body and NEW_NAME not in body


def test_the_owner_who_moved_it_and_brought_it_back_sees_it_by_its_name(moved_away, grinder, alice):
    page = _page(alice, moved_away)
    assert page.status_code == 200 and grinder.name in page.content.decode()


def test_a_request_that_ended_unconfirmed_before_a_sale_is_not_the_buyers(anon_api, grinder, carol):
    move = _asked(anon_api, grinder)
    MoveOut.objects.filter(pk=move.pk).update(state=MoveOut.State.CANCELLED, ended_at=timezone.now())
    _came_back_under(grinder, carol)
    assert _page(carol, move).status_code == 404


def test_an_open_request_is_the_current_owners_to_answer(anon_api, grinder, alice):
    move = _asked(anon_api, grinder)
    assert _page(alice, move).status_code == 200


def _arrived_here(owner, twin: Twin) -> MoveIn:
    """A move that brought `twin` here for `owner`, done (the destination's row)."""
    keys = sealing.new_keys()
    token = bearer.new_token()
    now = timezone.now()
    return MoveIn.objects.create(
        owner=owner,
        asked_for=twin.did,
        source_url=CLOSED,
        did=twin.did,
        key_public=sealing.public_key_text(keys.public),
        key_sealed=seal(keys.private),
        token_sealed=bearer.sealed(token),
        token_hash=bearer.token_hash(token),
        state=MoveIn.State.DONE,
        twin=twin,
        arrived_at=now,
        done_at=now,
        expires_at=now + timedelta(days=1),
    )


def test_the_owner_who_brought_a_thing_here_does_not_see_a_later_owners_name_for_it(grinder, alice, carol):
    move = _arrived_here(alice, grinder)
    assert grinder.name in client_for(alice).get(f"/moves/in/{move.public_id}/").content.decode()
    _came_back_under(grinder, carol)  # sold here since, and renamed by its buyer
    for path in (f"/moves/in/{move.public_id}/", "/moves/"):
        page = client_for(alice).get(path)
        assert page.status_code == 200 and NEW_NAME not in page.content.decode()
