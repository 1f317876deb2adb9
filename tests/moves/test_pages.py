"""The pages: "bring a thing here" and its status on the destination; the owner's confirmation on the source, with a
fresh login as for a transfer (SECURITY 26), and a 404 for anyone else (SECURITY 24)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from moves.models import MoveIn, MoveOut
from owners.recent_auth import SESSION_KEY
from tests.conftest import client_for
from tests.moves.conftest import request_body
from twins.transfer import offer_create

SCID = "QmfGEUAcMpzo25kF2Rhn8L5FAXysfGnkzjwdKoNPi615XQ"
# Nothing listens on port 1: a source or destination there is unreachable (a temporary failure).
CLOSED = "http://127.0.0.1:1"


def stale(client) -> None:
    session = client.session
    session[SESSION_KEY] = int(time.time()) - 3600
    session.save()


class TestBringHere:
    def test_the_page_has_the_form(self, alice_client):
        response = alice_client.get("/moves/")
        assert response.status_code == 200
        assert b"Bring a thing here" in response.content and b'name="source"' in response.content

    def test_visitors_are_sent_to_log_in(self, anon_client):
        response = anon_client.get("/moves/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")

    def test_something_that_is_no_dids_or_address_is_400_saying_what_to_paste(self, alice_client):
        response = alice_client.post("/moves/", {"source": "my grinder"})
        assert response.status_code == 400
        assert b"Paste the thing&#x27;s DID" in response.content
        assert not MoveIn.objects.exists()

    def test_an_unreachable_old_host_leaves_a_move_that_keeps_asking(self, alice_client, settings):
        settings.MOVES_HOST_URLS = {"old.example": CLOSED}
        response = alice_client.post("/moves/", {"source": f"did:webvh:{SCID}:old.example:twins:abc"})
        move = MoveIn.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/moves/in/{move.public_id}/"
        assert move.state == MoveIn.State.NEW and move.attempts == 1 and move.next_attempt_at > timezone.now()
        page = alice_client.get(response["Location"])
        assert b"could not be reached yet" in page.content and b"we keep trying" in page.content

    def test_an_old_host_on_a_private_address_is_refused_unless_allowed(self, alice_client, settings):
        settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
        settings.MOVES_HOST_URLS = {"old.example": CLOSED}
        response = alice_client.post("/moves/", {"source": f"did:webvh:{SCID}:old.example:twins:abc"})
        assert response.status_code == 400
        assert b"cannot deliver to this address" in response.content
        assert not MoveIn.objects.exists()

    def test_the_status_page_of_a_requested_move_says_to_confirm_on_the_old_host(self, alice, alice_client):
        move = _requested_move_in(alice)
        page = alice_client.get(f"/moves/in/{move.public_id}/")
        assert page.status_code == 200
        assert b"Next: open this link" in page.content
        assert move.confirm_url.encode() in page.content
        assert b'<progress id="move-progress" max="4" value="1">' in page.content

    def test_someone_elses_move_is_404(self, alice, carol_client):
        move = _requested_move_in(alice)
        assert carol_client.get(f"/moves/in/{move.public_id}/").status_code == 404
        assert carol_client.post(f"/moves/in/{move.public_id}/cancel/").status_code == 404
        assert MoveIn.objects.get(pk=move.pk).state == MoveIn.State.REQUESTED

    def test_the_owner_cancels_a_move_before_anything_arrived(self, alice, alice_client):
        move = _requested_move_in(alice)
        response = alice_client.post(f"/moves/in/{move.public_id}/cancel/")
        assert response.status_code == 302
        move.refresh_from_db()
        assert move.state == MoveIn.State.CANCELLED and move.ended_at is not None
        assert b"Cancelled by you." in alice_client.get(f"/moves/in/{move.public_id}/").content


def _requested_move_in(owner) -> MoveIn:
    from core.vault import seal
    from moves import bearer
    from ssi import move as sealing

    keys = sealing.new_keys()
    token = bearer.new_token()
    return MoveIn.objects.create(
        owner=owner,
        asked_for=f"did:webvh:{SCID}:old.example:twins:abc",
        source_url=CLOSED,
        did=f"did:webvh:{SCID}:old.example:twins:abc",
        scid=SCID,
        key_public=sealing.public_key_text(keys.public),
        key_sealed=seal(keys.private),
        token_sealed=bearer.sealed(token),
        token_hash=bearer.token_hash(token),
        remote_id="remote",
        confirm_url="https://old.example/moves/out/remote/",
        state=MoveIn.State.REQUESTED,
        expires_at=timezone.now() + timedelta(days=1),
    )


def code(move: MoveOut) -> dict[str, str]:
    """The confirmation form's data: the pairing code the new host shows for this request (moves.pairing)."""
    return {"pairing_code": move.pairing_code}


@pytest.fixture
def move_out(anon_api, grinder) -> MoveOut:
    body = request_body(did=grinder.did, destination=CLOSED, destination_did_domain="b.localhost:1")
    response = anon_api.post("/api/moves/requests", body, format="json")
    assert response.status_code == 201
    return MoveOut.objects.get(public_id=response.json()["id"])


class TestConfirm:
    def url(self, move: MoveOut, action: str = "") -> str:
        return f"/moves/out/{move.public_id}/" + (f"{action}/" if action else "")

    def test_the_owner_sees_where_it_would_go_and_what_moves(self, move_out, alice_client):
        page = alice_client.get(self.url(move_out))
        assert page.status_code == 200
        assert b'data-testid="destination-host">127.0.0.1:1<' in page.content
        assert b"its signed history" in page.content and b"its readings" in page.content
        assert b"Move it to 127.0.0.1:1" in page.content

    def test_anyone_else_gets_404_and_visitors_are_sent_to_log_in(self, move_out, carol_client, anon_client):
        for path in (self.url(move_out), self.url(move_out, "confirm"), self.url(move_out, "cancel")):
            response = carol_client.post(path) if path != self.url(move_out) else carol_client.get(path)
            assert response.status_code == 404
        response = anon_client.get(self.url(move_out))
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        assert MoveOut.objects.get(pk=move_out.pk).state == MoveOut.State.REQUESTED

    def test_confirming_needs_a_fresh_login_and_changes_nothing_without(self, move_out, alice):
        client = client_for(alice)
        stale(client)
        assert b"You will be asked for your password first." in client.get(self.url(move_out)).content
        response = client.post(self.url(move_out, "confirm"), HTTP_REFERER="http://testserver" + self.url(move_out))
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
        assert MoveOut.objects.get(pk=move_out.pk).state == MoveOut.State.REQUESTED

    def test_confirming_builds_seals_and_schedules_the_push(self, move_out, alice_client, alice):
        response = alice_client.post(self.url(move_out, "confirm"), code(move_out))
        assert response.status_code == 302
        move_out.refresh_from_db()
        assert move_out.state == MoveOut.State.CONFIRMED and move_out.confirmed_by == alice
        assert move_out.confirmed_at is not None and move_out.next_attempt_at is not None
        assert len(move_out.sealed) > 1000 and len(move_out.sha256) == 64
        assert len(move_out.entries) == 2  # not yet in the log: the thing is still here
        assert move_out.twin.moved_to == ""
        assert b"stays live here" in alice_client.get(self.url(move_out)).content

    def test_confirming_one_request_cancels_the_others_for_the_thing(self, move_out, anon_api, grinder, alice):
        body = request_body(did=grinder.did, destination=CLOSED, destination_did_domain="c.localhost:1")
        other = MoveOut.objects.get(public_id=anon_api.post("/api/moves/requests", body, format="json").json()["id"])
        client_for(alice).post(self.url(move_out, "confirm"), code(move_out))
        other.refresh_from_db()
        assert other.state == MoveOut.State.CANCELLED

    def test_a_thing_with_an_open_transfer_offer_cannot_move(self, move_out, alice_client, alice, grinder):
        offer_create(twin=grinder, seller=alice, redact_kinds=[])
        page = alice_client.get(self.url(move_out))
        assert b"open transfer offer" in page.content and b"Move it to" not in page.content
        response = alice_client.post(self.url(move_out, "confirm"), code(move_out))
        assert response.status_code == 409
        assert MoveOut.objects.get(pk=move_out.pk).state == MoveOut.State.REQUESTED

    def test_an_expired_request_cannot_be_confirmed(self, move_out, alice_client):
        MoveOut.objects.filter(pk=move_out.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        assert b"This request expired" in alice_client.get(self.url(move_out)).content
        assert alice_client.post(self.url(move_out, "confirm"), code(move_out)).status_code == 410
        assert MoveOut.objects.get(pk=move_out.pk).state == MoveOut.State.REQUESTED

    def test_after_the_push_the_page_says_what_cancelling_does_not_take_back(self, move_out, alice_client):
        assert b"cancel-after-push" not in alice_client.get(self.url(move_out)).content
        MoveOut.objects.filter(pk=move_out.pk).update(state=MoveOut.State.PUSHED)
        page = alice_client.get(self.url(move_out)).content.decode()
        assert 'data-testid="cancel-after-push"' in page and "does not take those back" in page
        assert "Cancel, keep it here" in page

    def test_the_owner_cancels_and_the_thing_stays(self, move_out, alice_client):
        assert alice_client.post(self.url(move_out, "cancel")).status_code == 302
        move_out.refresh_from_db()
        assert move_out.state == MoveOut.State.CANCELLED
        assert b"stays here" in alice_client.get(self.url(move_out)).content
        assert alice_client.post(self.url(move_out, "confirm"), code(move_out)).status_code == 410

    def test_the_moves_page_lists_requests_for_the_owners_things(self, move_out, alice_client, carol_client):
        assert f"/moves/out/{move_out.public_id}/".encode() in alice_client.get("/moves/").content
        assert f"/moves/out/{move_out.public_id}/".encode() not in carol_client.get("/moves/").content

    def test_confirming_without_a_csrf_token_is_403(self, move_out, alice):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(alice)
        assert client.post(self.url(move_out, "confirm")).status_code == 403
        assert MoveOut.objects.get(pk=move_out.pk).state == MoveOut.State.REQUESTED


def test_a_second_request_cannot_be_confirmed_while_the_thing_is_on_its_way(move_out, anon_api, grinder, alice):
    client = client_for(alice)
    client.post(f"/moves/out/{move_out.public_id}/confirm/", code(move_out))
    body = request_body(did=grinder.did, destination=CLOSED, destination_did_domain="c.localhost:1")
    later = MoveOut.objects.get(public_id=anon_api.post("/api/moves/requests", body, format="json").json()["id"])
    page = client.get(f"/moves/out/{later.public_id}/")
    assert b"already on its way to 127.0.0.1:1" in page.content
    response = client.post(f"/moves/out/{later.public_id}/confirm/", code(later))
    assert response.status_code == 409
    assert MoveOut.objects.get(pk=later.pk).state == MoveOut.State.REQUESTED
