"""The pairing code (moves.pairing, review finding 13): the owner confirms on the old host the request THEY made on
the new one, not a stranger's for the same thing and host; and the Bring form's per-account limits (finding 7)."""

from __future__ import annotations

import re

import pytest

from moves import pairing
from moves.models import MoveIn, MoveOut
from owners.keys import owner_signing_key
from owners.models import OwnerKey
from ssi.thing_keys import thing_key
from tests.conftest import PASSWORD, client_for
from tests.moves.conftest import request_body
from tests.moves.test_pages import CLOSED, SCID, _requested_move_in
from twins.models import Twin


def _ask(anon_api, grinder, **changes) -> MoveOut:
    body = request_body(did=grinder.did, destination=CLOSED, destination_did_domain="b.localhost:1", **changes)
    response = anon_api.post("/api/moves/requests", body, format="json")
    assert response.status_code == 201, response.content
    return MoveOut.objects.get(public_id=response.json()["id"])


def _confirm(owner, move: MoveOut, code: str):
    return client_for(owner).post(f"/moves/out/{move.public_id}/confirm/", {"pairing_code": code})


def _unchanged(move: MoveOut, grinder: Twin) -> None:
    move.refresh_from_db()
    grinder.refresh_from_db()
    assert move.state == MoveOut.State.REQUESTED and move.entries is None and move.sealed is None
    assert grinder.leaving_to == ""


# -- the code itself ---------------------------------------------------------------------------------------------


def test_the_code_is_eight_crockford_characters_and_typing_it_is_forgiving():
    code = pairing.pairing_code(move_key="k", owner_update_key="z6Mkx", request_id="r1")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
    assert pairing.matches(code.lower().replace("-", " "), code)
    assert pairing.matches(code.replace("0", "o").replace("1", "l"), code)
    assert not pairing.matches(code[:-1], code)
    # Each field changes it: another key, another update key (a stranger's account) or another request.
    others = {
        pairing.pairing_code(move_key="k2", owner_update_key="z6Mkx", request_id="r1"),
        pairing.pairing_code(move_key="k", owner_update_key="z6Mky", request_id="r1"),
        pairing.pairing_code(move_key="k", owner_update_key="z6Mkx", request_id="r2"),
    }
    assert code not in others and len(others) == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles", "no_worker")  # no push: one database cannot hold the thing twice
def test_the_code_on_the_new_hosts_page_is_the_one_the_old_host_computes(alice, bob, grinder):
    answer = client_for(bob).post("/moves/", {"source": grinder.did})
    move_in = MoveIn.objects.get(owner=bob)
    assert answer.status_code == 302 and move_in.state == MoveIn.State.REQUESTED
    page = client_for(bob).get(f"/moves/in/{move_in.public_id}/")
    assert b"You will be asked for this code on your old host" in page.content
    shown = re.search(rb'data-testid="pairing-code">([^<]+)<', page.content).group(1).decode()
    # The old host's own computation, from its own row (what the destination sent it) ...
    move_out = MoveOut.objects.get(remote_id=move_in.public_id)
    assert shown == move_out.pairing_code
    # ... which names bob's update key here for this thing (he pasted its DID): the account it would go to.
    bobs_key = OwnerKey.objects.get(owner=bob, role=OwnerKey.Role.CURRENT, retired_at__isnull=True)
    assert move_out.owner_update_key == thing_key(owner_signing_key(bobs_key), grinder.did).multibase
    assert _confirm(alice, move_out, shown).status_code == 302
    assert MoveOut.objects.get(pk=move_out.pk).state == MoveOut.State.CONFIRMED


# -- two requests for one thing -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_a_strangers_request_open_the_owner_is_warned_and_only_her_own_code_confirms_hers(
    anon_api, alice, grinder
):
    hers = _ask(anon_api, grinder)
    strangers = _ask(anon_api, grinder)
    client = client_for(alice)

    page = client.get(f"/moves/out/{hers.public_id}/")
    assert b"2 requests to move this thing are open: confirm only the one whose code you see" in page.content
    listing = client.get("/moves/")
    assert listing.content.count(b'data-testid="several-requests"') == 2

    # The stranger's code on her request: refused in words, nothing moves, both requests still wait.
    refused = _confirm(alice, hers, strangers.pairing_code)
    assert refused.status_code == 400
    assert b"This is not the pairing code of this request: nothing moved" in refused.content
    assert b"4 tries left" in refused.content
    _unchanged(hers, grinder)
    assert MoveOut.objects.get(pk=strangers.pk).state == MoveOut.State.REQUESTED
    assert hers.pairing_failures == 1

    # Her own code (typed as a person would) confirms hers, and the stranger's is cancelled.
    assert _confirm(alice, hers, hers.pairing_code.lower().replace("-", " ")).status_code == 302
    assert MoveOut.objects.get(pk=hers.pk).state == MoveOut.State.CONFIRMED
    assert MoveOut.objects.get(pk=strangers.pk).state == MoveOut.State.CANCELLED


@pytest.mark.django_db
def test_the_confirmation_without_a_code_is_refused_and_changes_nothing(anon_api, alice, grinder):
    move = _ask(anon_api, grinder)
    response = client_for(alice).post(f"/moves/out/{move.public_id}/confirm/")
    assert response.status_code == 400 and b"This field is required" in response.content
    _unchanged(move, grinder)
    assert move.pairing_failures == 0


@pytest.mark.django_db
def test_five_wrong_codes_cancel_the_request_and_tell_the_owner(anon_api, alice, grinder):
    move = _ask(anon_api, grinder)
    for _ in range(MoveOut.MAX_PAIRING_FAILURES - 1):
        assert _confirm(alice, move, "AAAA-AAAA").status_code == 400
        _unchanged(move, grinder)
    last = _confirm(alice, move, "AAAA-AAAA")
    assert last.status_code == 410
    assert b"wrong 5 times, so this request is cancelled" in last.content
    move.refresh_from_db()
    assert move.state == MoveOut.State.CANCELLED and move.ended_at is not None
    assert "wrong pairing code" in move.error
    assert (
        b"wrong pairing code was typed too many times" in client_for(alice).get(f"/moves/out/{move.public_id}/").content
    )
    # Even the right code cannot bring it back: the new host asks again.
    assert _confirm(alice, move, move.pairing_code).status_code == 410
    grinder.refresh_from_db()
    assert grinder.leaving_to == ""


@pytest.mark.django_db
def test_someone_elses_wrong_codes_are_not_counted_against_the_owners_request(anon_api, carol, grinder):
    move = _ask(anon_api, grinder)
    assert _confirm(carol, move, "AAAA-AAAA").status_code == 404
    move.refresh_from_db()
    assert move.pairing_failures == 0 and move.state == MoveOut.State.REQUESTED


@pytest.mark.django_db
def test_the_signed_upload_api_without_the_code_is_400_and_changes_nothing(anon_api, alice, alice_api, grinder):
    move = _ask(anon_api, grinder)
    url = f"/api/move-requests/{move.public_id}/signed"
    response = alice_api.post(url, {"signed": [{}], "password": PASSWORD}, format="json")
    assert response.status_code == 400 and "pairing_code" in response.content.decode()
    _unchanged(move, grinder)


@pytest.mark.django_db
def test_the_signed_upload_api_with_a_wrong_code_is_400_and_counted(anon_api, alice, alice_api, grinder):
    move = _ask(anon_api, grinder)
    url = f"/api/move-requests/{move.public_id}/signed"
    body = {"signed": [{}], "pairing_code": "AAAA-AAAA", "password": PASSWORD}
    response = alice_api.post(url, body, format="json")
    assert response.status_code == 400 and "not the pairing code of this request" in response.content.decode()
    _unchanged(move, grinder)
    assert move.pairing_failures == 1


# -- the Bring form's limits (finding 7) ----------------------------------------------------------------------------


def _did(n: int) -> str:
    return f"did:webvh:{SCID}:old.example:twins:thing{n}"


@pytest.mark.django_db
def test_a_sixth_open_move_is_refused_in_words_before_the_old_host_is_asked(alice, settings):
    settings.MOVES_HOST_URLS = {"old.example": CLOSED}
    for _ in range(5):
        move = _requested_move_in(alice)
        MoveIn.objects.filter(pk=move.pk).update(asked_for=f"{move.asked_for}{move.pk}")
    response = client_for(alice).post("/moves/", {"source": _did(99)})
    assert response.status_code == 400
    assert b"You have 5 moves open here, the most at once" in response.content
    assert MoveIn.objects.filter(owner=alice).count() == 5  # no row made, so no call to the old host


@pytest.mark.django_db
def test_an_eleventh_ask_within_the_hour_is_refused_in_words_even_when_the_old_host_refused_them(alice, settings):
    settings.MOVES_HOST_URLS = {"old.example": CLOSED}
    settings.MOVES_OPEN_PER_ACCOUNT = 100
    client = client_for(alice)
    for n in range(10):
        assert client.post("/moves/", {"source": _did(n)}).status_code == 302
    # Refused asks leave no row (moves.services.move_request deletes them): the limit counts asks, not rows.
    MoveIn.objects.filter(owner=alice).delete()
    response = client.post("/moves/", {"source": _did(10)})
    assert response.status_code == 429
    assert b"You asked for 10 moves in a short time: try again" in response.content
    assert not MoveIn.objects.filter(owner=alice).exists()


@pytest.mark.django_db
def test_the_ask_limit_is_per_account(alice, bob, settings):
    settings.MOVES_HOST_URLS = {"old.example": CLOSED}
    settings.MOVES_OPEN_PER_ACCOUNT = 100
    settings.RATE_MOVES_ASKS_PER_ACCOUNT = "1/3600"
    assert client_for(alice).post("/moves/", {"source": _did(1)}).status_code == 302
    assert client_for(alice).post("/moves/", {"source": _did(2)}).status_code == 429
    assert client_for(bob).post("/moves/", {"source": _did(3)}).status_code == 302
