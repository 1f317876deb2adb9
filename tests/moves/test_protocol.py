"""The whole protocol, both roles on one live server (tests/moves/conftest.py): real HTTP through core.netguard,
real sealing, the real twins side (twins.moving) and every installed part of the package."""

from __future__ import annotations

import pytest
from django.db import transaction

from moves import bearer, services, steps
from moves.models import MoveIn, MoveOut
from ssi import webvh
from tests.moves.conftest import bearer_api, confirm, make_room
from twins.identity import log_state
from twins.models import JournalNote, Twin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_database_parts")]


def _ask(bob, grinder) -> tuple[MoveIn, MoveOut]:
    move_in = services.move_request(owner=bob, source=grinder.did)
    return move_in, MoveOut.objects.get(remote_id=move_in.public_id)


def test_step_1_the_destination_asks_and_shows_where_to_confirm(roles, bob, grinder):
    move_in, move_out = _ask(bob, grinder)
    assert move_in.state == MoveIn.State.REQUESTED
    assert move_in.confirm_url.endswith(f"/moves/out/{move_out.public_id}/")
    assert move_in.remote_id == move_out.public_id
    assert move_in.scid == webvh.parse_did(grinder.did).scid
    assert move_out.twin == grinder and move_out.destination_url == roles.b_url
    assert move_out.destination_did_domain == roles.b_did_domain
    # Asking again while it is open is the same move.
    assert services.move_request(owner=bob, source=grinder.did).pk == move_in.pk
    assert MoveOut.objects.count() == 1


def test_a_thing_moves_and_lives_in_exactly_one_place(roles, alice, bob, grinder):
    move_in, move_out = _ask(bob, grinder)
    old_did = grinder.did
    with transaction.atomic():  # the push runs once this commits: the source's copy makes room first
        confirm(move_out=move_out, by=alice)
        make_room(grinder)
    move_out.refresh_from_db()
    move_in.refresh_from_db()
    assert move_out.state == MoveOut.State.DONE, move_out.error
    assert move_in.state == MoveIn.State.DONE, move_in.error
    assert move_out.sealed is None and move_in.sha256 == move_out.sha256
    # The source let go: moved_to, and its log ends with the move.
    source_twin = Twin.objects.get(pk=grinder.pk)
    assert source_twin.moved_to == roles.b_url
    moved = log_state(source_twin)
    assert moved.scid == webvh.parse_did(old_did).scid and moved.did != old_did
    # The destination holds it, live, for bob, under its own domain, with the same log.
    arrived = move_in.twin
    assert arrived.pk != grinder.pk and not arrived.arriving and arrived.owner == bob
    assert arrived.did == moved.did
    assert roles.b_did_domain.replace(":", "%3A") in arrived.did
    here = log_state(arrived)
    assert [v.version_id for v in here.versions] == [v.version_id for v in moved.versions]


def _live_copies(did: str) -> list[int]:
    return [twin.pk for twin in Twin.objects.filter(did=did) if twin.moved_to == "" and not twin.arriving]


def test_with_no_worker_the_resume_job_takes_each_step_and_each_step_again_answers_the_same(
    roles, alice, bob, grinder, no_worker
):
    move_in, move_out = _ask(bob, grinder)
    confirm(move_out=move_out, by=alice)
    make_room(grinder)
    confirm(move_out=move_out, by=alice)  # a second click changes nothing
    move_out.refresh_from_db()
    assert move_out.state == MoveOut.State.CONFIRMED
    sealed = bytes(move_out.sealed)

    assert services.moves_resume() == 1  # step 2: the push; step 3 happens on the destination
    move_out.refresh_from_db()
    move_in.refresh_from_db()
    assert (move_out.state, move_in.state) == (MoveOut.State.PUSHED, MoveIn.State.ARRIVED)
    assert move_in.twin.arriving and _live_copies(move_in.twin.did) == []  # not live on B yet ...
    assert _live_copies(grinder.did) == [grinder.pk]  # ... still live on A

    api = bearer_api(bearer.opened(move_in.token_sealed))
    again = api.post(f"/api/moves/{move_in.public_id}/package", sealed, content_type="application/octet-stream")
    assert again.status_code == 200 and again.json()["sha256"] == move_in.sha256
    assert Twin.objects.filter(did=move_in.twin.did).count() == 1  # the same package restored once

    assert services.moves_resume() == 1  # steps 4 and 5
    move_out.refresh_from_db()
    move_in.refresh_from_db()
    assert (move_out.state, move_in.state) == (MoveOut.State.DONE, MoveIn.State.DONE)
    assert _live_copies(move_in.twin.did) == [move_in.twin.pk]

    arrived = api.post(f"/api/moves/requests/{move_out.public_id}/arrived", {"sha256": move_in.sha256}, format="json")
    assert arrived.status_code == 200 and arrived.json()["state"] == "done"
    assert services.moves_resume() == 0
    assert _live_copies(move_in.twin.did) == [move_in.twin.pk]


def test_a_cancel_on_the_source_before_it_lets_go_keeps_the_thing_there(roles, alice, bob, grinder):
    move_in, move_out = _ask(bob, grinder)
    services.move_cancel(move=move_out, by=alice)
    move_out.refresh_from_db()
    assert move_out.state == MoveOut.State.CANCELLED
    # The destination learns it when it asks how its request stands.
    MoveIn.objects.filter(pk=move_in.pk).update(next_attempt_at=None)
    steps.poll_source(move_in.pk)
    move_in.refresh_from_db()
    assert move_in.state == MoveIn.State.CANCELLED and "old host" in move_in.error
    assert Twin.objects.get(pk=grinder.pk).moved_to == ""


def test_no_secret_of_the_move_reaches_a_log_and_keys_are_sealed_at_rest(roles, alice, bob, grinder, caplog, capfd):
    import base64
    import logging

    from core.vault import unseal
    from twins import services as twin_services

    marker = "journal-marker-7f3a9c"
    twin_services.note_create(twin=grinder, title="Descaled", text=marker, by=alice)  # travels in the package
    caplog.set_level(logging.DEBUG)
    move_in, move_out = _ask(bob, grinder)
    token = bearer.opened(move_in.token_sealed)
    private = unseal(move_in.key_sealed)
    assert len(private) == 32 and private not in bytes(move_in.key_sealed)
    assert token.encode() not in bytes(move_in.token_sealed)
    with transaction.atomic():
        confirm(move_out=move_out, by=alice)
        make_room(grinder)
    move_in.refresh_from_db()
    assert move_in.state == MoveIn.State.DONE
    assert JournalNote.objects.filter(twin=move_in.twin, text=marker).exists()  # it travelled in the package
    # Done: the destination forgot the move's key and token (issue 18 review).
    assert bytes(move_in.key_sealed) == b"" and bytes(move_in.token_sealed) == b""
    assert move_in.token_hash != bearer.token_hash(token)
    logged = "\n".join(record.getMessage() for record in caplog.records) + "".join(capfd.readouterr())
    assert move_in.public_id in logged  # the moves were logged, by id
    for secret in (token, base64.b64encode(private).decode(), private.hex(), marker, "thingstead-move/1"):
        assert secret not in logged


def test_a_package_for_another_thing_than_the_one_shown_is_409_and_nothing_is_written(
    roles, alice, bob, grinder, no_worker
):
    """Issue 18 review: with a page address pasted, the SCID comes from the source's answer and the status page
    shows it; a package whose thing has another SCID is refused before anything is restored."""
    move_in = services.move_request(owner=bob, source=f"{roles.a_url}/things/{grinder.slug}/")
    move_out = MoveOut.objects.get(remote_id=move_in.public_id)
    assert move_in.scid == webvh.parse_did(grinder.did).scid
    page = _client_of(bob).get(f"/moves/in/{move_in.public_id}/")
    assert move_in.did.encode() in page.content and move_in.scid.encode() in page.content
    confirm(move_out=move_out, by=alice)
    make_room(grinder)
    move_out.refresh_from_db()
    # What the owner was shown is another thing than what comes (a source that answered about one, sends another).
    other = "QmfGEUAcMpzo25kF2Rhn8L5FAXysfGnkzjwdKoNPi615XQ"
    MoveIn.objects.filter(pk=move_in.pk).update(scid=other)
    twins_before = Twin.objects.count()
    token = bearer.opened(move_in.token_sealed)
    answer = bearer_api(token).post(
        f"/api/moves/{move_in.public_id}/package", bytes(move_out.sealed), content_type="application/octet-stream"
    )
    assert answer.status_code == 409, answer.content
    assert "SCID differs" in answer.json()["message"]
    assert Twin.objects.count() == twins_before
    # A package that opened and was refused ends the move (review finding 1: no package after package).
    ended = MoveIn.objects.get(pk=move_in.pk)
    assert ended.state == MoveIn.State.FAILED and "SCID differs" in ended.error
    assert bytes(ended.key_sealed) == b"" and bytes(ended.token_sealed) == b""


def _client_of(owner):
    from django.test import Client

    client = Client()
    client.force_login(owner)
    return client
