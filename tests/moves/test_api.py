"""The server-to-server API: shapes, bearer tokens, limits and sizes; every refusal a 4xx in the one error shape."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from moves.models import MoveIn, MoveOut
from ssi import move as sealing
from tests.moves.conftest import bearer_api, request_body
from twins.models import Twin

REQUESTS = "/api/moves/requests"


@pytest.fixture
def requested(anon_api, grinder) -> tuple[MoveOut, dict]:
    body = request_body(did=grinder.did)
    response = anon_api.post(REQUESTS, body, format="json")
    assert response.status_code == 201, response.json()
    return MoveOut.objects.get(public_id=response.json()["id"]), body


class TestRequest:
    def test_a_request_for_a_thing_here_is_recorded_and_answered_with_where_to_confirm(self, anon_api, grinder):
        body = request_body(did=grinder.did)
        response = anon_api.post(REQUESTS, body, format="json")
        assert response.status_code == 201
        data = response.json()
        move = MoveOut.objects.get(public_id=data["id"])
        assert data["confirm_url"].endswith(f"/moves/out/{move.public_id}/")
        assert data["did"] == grinder.did
        assert move.twin == grinder and move.state == MoveOut.State.REQUESTED
        assert move.remote_id == body["id"] and move.destination_url == "https://b.example"
        assert timedelta(hours=23) < move.expires_at - timezone.now() <= timedelta(hours=24)

    def test_the_same_request_again_is_the_same_request(self, anon_api, grinder):
        body = request_body(did=grinder.did)
        first = anon_api.post(REQUESTS, body, format="json")
        again = anon_api.post(REQUESTS, body, format="json")
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
        assert MoveOut.objects.count() == 1

    def test_a_token_reused_for_another_move_is_refused(self, anon_api, grinder):
        body = request_body(did=grinder.did)
        anon_api.post(REQUESTS, body, format="json")
        response = anon_api.post(REQUESTS, {**body, "id": "another"}, format="json")
        assert response.status_code == 409
        assert "another request" in response.json()["message"]

    def test_a_thing_by_its_page_address_is_found_too(self, anon_api, grinder):
        body = request_body(did=f"https://a.example/things/{grinder.slug}/")
        response = anon_api.post(REQUESTS, body, format="json")
        assert response.status_code == 201 and response.json()["did"] == grinder.did

    def test_an_unknown_thing_is_404_and_nothing_is_recorded(self, anon_api, grinder):
        response = anon_api.post(REQUESTS, request_body(did=grinder.did + "x"), format="json")
        assert response.status_code == 404
        assert response.json() == {"message": "No thing here has this DID or address.", "extra": {}}
        assert not MoveOut.objects.exists()

    def test_a_thing_that_moved_away_is_410_naming_where(self, anon_api, grinder):
        Twin.objects.filter(pk=grinder.pk).update(moved_to="https://new.example", moved_at=timezone.now())
        response = anon_api.post(REQUESTS, request_body(did=grinder.did), format="json")
        assert response.status_code == 410
        assert "https://new.example" in response.json()["message"]

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"key": "bm90IGEga2V5"}, "key"),
            ({"key": 42}, "key"),
            ({"owner_update_key": "z6Mkbad"}, "owner_update_key"),
            ({"owner_next_key_hash": "nothash"}, "owner_next_key_hash"),
            ({"destination": "ftp://b.example"}, "destination"),
            ({"destination": "https://"}, "destination"),
            ({"destination": "https://b.example:99999"}, "destination"),
            ({"destination": "https://b.example/?x=1"}, "destination"),
            # Issue 18 review: a look-alike host (the user part), a path, an empty query or a fragment.
            ({"destination": "https://things.example.org@evil.example"}, "destination"),
            ({"destination": "https://u:p@b.example"}, "destination"),
            ({"destination": "https://b.example/things"}, "destination"),
            ({"destination": "https://b.example/?"}, "destination"),
            ({"destination": "https://b.example#x"}, "destination"),
            ({"destination_did_domain": "127.0.0.1"}, "destination_did_domain"),
            ({"token": "short"}, "token"),
            ({"extra": "x"}, "extra"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, anon_api, grinder, changes, field):
        response = anon_api.post(REQUESTS, request_body(did=grinder.did, **changes), format="json")
        assert response.status_code == 400
        assert response.json()["message"].startswith(f"{field}:")
        assert not MoveOut.objects.exists()

    def test_a_missing_field_and_a_non_json_body_are_400(self, anon_api, grinder):
        body = request_body(did=grinder.did)
        del body["key"]
        assert anon_api.post(REQUESTS, body, format="json").status_code == 400
        response = anon_api.post(REQUESTS, "did=x", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415

    def test_requests_are_limited_per_client_address(self, anon_api, grinder, settings):
        settings.RATE_MOVES_REQUESTS_PER_CLIENT = "2/3600"
        for _ in range(2):
            assert anon_api.post(REQUESTS, request_body(did=grinder.did), format="json").status_code == 201
        response = anon_api.post(REQUESTS, request_body(did=grinder.did), format="json")
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert "Too many move calls" in response.json()["message"]
        assert MoveOut.objects.count() == 2

    def test_tokens_are_kept_sealed(self, requested):
        move, body = requested
        row = MoveOut.objects.values().get(pk=move.pk)
        assert body["token"].encode() not in bytes(row["token_sealed"])
        assert body["token"] not in str(row)


class TestBearer:
    def test_the_status_answers_with_the_token(self, requested):
        move, body = requested
        response = bearer_api(body["token"]).get(f"{REQUESTS}/{move.public_id}")
        assert response.status_code == 200
        assert response.json()["state"] == "requested"

    def test_no_token_a_wrong_token_and_an_unknown_move_get_the_same_401(self, requested, anon_api):
        move, body = requested
        answers = [
            anon_api.get(f"{REQUESTS}/{move.public_id}"),
            bearer_api(body["token"] + "x").get(f"{REQUESTS}/{move.public_id}"),
            bearer_api(body["token"]).get(f"{REQUESTS}/nosuchmove"),
            bearer_api(body["token"]).post(f"{REQUESTS}/nosuchmove/arrived", {"sha256": "0" * 64}, format="json"),
        ]
        assert {response.status_code for response in answers} == {401}
        assert len({response.content for response in answers}) == 1
        assert answers[0]["WWW-Authenticate"] == "Bearer"

    def test_a_request_past_its_day_reads_as_expired_without_a_write(self, requested):
        move, body = requested
        MoveOut.objects.filter(pk=move.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        response = bearer_api(body["token"]).get(f"{REQUESTS}/{move.public_id}")
        assert response.json()["state"] == "expired"
        assert MoveOut.objects.get(pk=move.pk).state == MoveOut.State.REQUESTED

    def test_arrived_before_confirmation_is_refused_and_changes_nothing(self, requested):
        move, body = requested
        response = bearer_api(body["token"]).post(
            f"{REQUESTS}/{move.public_id}/arrived", {"sha256": "0" * 64}, format="json"
        )
        assert response.status_code == 410
        assert MoveOut.objects.get(pk=move.pk).state == MoveOut.State.REQUESTED

    def test_arrived_with_a_bad_sha256_is_400(self, requested):
        move, body = requested
        response = bearer_api(body["token"]).post(f"{REQUESTS}/{move.public_id}/arrived", {"sha256": 5}, format="json")
        assert response.status_code == 400

    def test_the_destination_cancels_and_again_is_the_same(self, requested):
        move, body = requested
        api = bearer_api(body["token"])
        for _ in range(2):
            response = api.post(f"{REQUESTS}/{move.public_id}/cancel")
            assert response.status_code == 200 and response.json()["state"] == "cancelled"

    def test_calls_are_limited_per_client_address(self, requested, settings):
        move, body = requested
        settings.RATE_MOVES_CALLS_PER_CLIENT = "2/60"
        api = bearer_api(body["token"])
        assert [api.get(f"{REQUESTS}/{move.public_id}").status_code for _ in range(3)] == [200, 200, 429]


@pytest.fixture
def move_in(alice) -> tuple[MoveIn, str, sealing.MoveKeys]:
    from core.vault import seal
    from moves import bearer

    keys = sealing.new_keys()
    token = bearer.new_token()
    move = MoveIn.objects.create(
        owner=alice,
        asked_for="https://a.example/things/x/",
        source_url="https://a.example",
        key_public=sealing.public_key_text(keys.public),
        key_sealed=seal(keys.private),
        token_sealed=bearer.sealed(token),
        token_hash=bearer.token_hash(token),
        expires_at=timezone.now() + timedelta(days=1),
        state=MoveIn.State.REQUESTED,
    )
    return move, token, keys


class TestPackage:
    def url(self, move: MoveIn) -> str:
        return f"/api/moves/{move.public_id}/package"

    def test_without_the_token_it_is_401(self, move_in, anon_api):
        move, _, keys = move_in
        sealed = sealing.seal({"format": "x"}, keys.public).ciphertext
        response = anon_api.post(self.url(move), sealed, content_type="application/octet-stream")
        assert response.status_code == 401

    def test_only_octet_stream_is_taken(self, move_in):
        move, token, _ = move_in
        response = bearer_api(token).post(self.url(move), {"package": "x"}, format="json")
        assert response.status_code == 415

    def test_an_empty_body_is_400(self, move_in):
        move, token, _ = move_in
        response = bearer_api(token).post(self.url(move), b"", content_type="application/octet-stream")
        assert response.status_code == 400

    def test_a_package_over_the_cap_is_413_and_nothing_changes(self, move_in, settings):
        move, token, keys = move_in
        settings.MOVES_MAX_PACKAGE_BYTES = 1000
        sealed = sealing.seal({"format": "x", "pad": secrets.token_hex(1000)}, keys.public).ciphertext  # no zlib gain
        response = bearer_api(token).post(self.url(move), sealed, content_type="application/octet-stream")
        assert response.status_code == 413
        assert "1000 bytes" in response.json()["message"]
        assert MoveIn.objects.get(pk=move.pk).state == MoveIn.State.REQUESTED

    def test_a_package_sealed_to_another_key_is_400_and_nothing_changes(self, move_in):
        move, token, _ = move_in
        sealed = sealing.seal({"format": "x"}, sealing.new_keys().public).ciphertext
        response = bearer_api(token).post(self.url(move), sealed, content_type="application/octet-stream")
        assert response.status_code == 400
        assert "does not open" in response.json()["message"]
        assert MoveIn.objects.get(pk=move.pk).state == MoveIn.State.REQUESTED

    def test_a_package_for_another_destination_is_400(self, move_in):
        move, token, keys = move_in
        package = {"format": "thingstead-move/1", "parts": {}, "move": {"destination": "https://elsewhere.example"}}
        sealed = sealing.seal(package, keys.public).ciphertext
        response = bearer_api(token).post(self.url(move), sealed, content_type="application/octet-stream")
        assert response.status_code == 400
        assert "another instance" in response.json()["message"]

    def test_a_package_for_a_cancelled_move_is_410(self, move_in):
        move, token, keys = move_in
        MoveIn.objects.filter(pk=move.pk).update(state=MoveIn.State.CANCELLED)
        sealed = sealing.seal({"format": "x"}, keys.public).ciphertext
        response = bearer_api(token).post(self.url(move), sealed, content_type="application/octet-stream")
        assert response.status_code == 410


class TestPackageLimits:
    """Issue 18 review: a hostile "source" (any URL an account on B pastes) may send a compression bomb."""

    def post(self, move: MoveIn, token: str, ciphertext: bytes):
        url = f"/api/moves/{move.public_id}/package"
        return bearer_api(token).post(url, ciphertext, content_type="application/octet-stream")

    def test_the_plaintext_cap_is_configs_512_mib_twice_the_package_cap(self, settings):
        from moves import chunks, services

        # Photos travel as base64 in the JSON: an opened package of photos is ~1.34x its sealed bytes.
        assert services.max_plaintext_bytes() == 512 * 1024 * 1024 <= sealing.MAX_PLAINTEXT
        assert chunks.max_package_bytes() == 256 * 1024 * 1024

    def test_a_package_inflating_past_the_plaintext_cap_is_400_and_nothing_changes(self, move_in, settings):
        move, token, keys = move_in
        settings.MOVES_MAX_PLAINTEXT_BYTES = 1_000_000
        sealed = sealing.seal({"format": "x", "pad": "a" * 2_000_000}, keys.public).ciphertext
        response = self.post(move, token, sealed)
        assert response.status_code == 400
        assert "larger than 1000000 bytes" in response.json()["message"]
        assert MoveIn.objects.get(pk=move.pk).state == MoveIn.State.REQUESTED

    def test_a_package_of_a_million_empty_lists_is_400_before_it_is_parsed(self, move_in, settings):
        import zlib

        import nacl.public

        move, token, keys = move_in
        settings.MOVES_MAX_PACKAGE_VALUES = 500_000
        bomb = b'{"format": "x", "pad": [' + b"[]," * 1_000_000 + b"[]]}"
        ciphertext = nacl.public.SealedBox(nacl.public.PublicKey(keys.public)).encrypt(zlib.compress(bomb, 9))
        response = self.post(move, token, ciphertext)
        assert response.status_code == 400
        assert "more than 500000 JSON values" in response.json()["message"]
        assert MoveIn.objects.get(pk=move.pk).state == MoveIn.State.REQUESTED

    def test_a_package_for_an_ended_move_is_410_without_opening_it(self, move_in):
        move, token, keys = move_in
        # A key that no longer opens (as after the KEK changed) would be a 409 if the package were opened first.
        MoveIn.objects.filter(pk=move.pk).update(state=MoveIn.State.FAILED, key_sealed=b"not a vault box")
        response = self.post(move, token, sealing.seal({"format": "x"}, keys.public).ciphertext)
        assert response.status_code == 410

    def test_a_cancelled_move_forgets_its_key_and_token_and_its_token_is_then_401(self, move_in, alice):
        from moves import bearer, services

        move, token, keys = move_in
        services.move_cancel(move=move, by=alice)
        ended = MoveIn.objects.get(pk=move.pk)
        assert ended.state == MoveIn.State.CANCELLED
        assert bytes(ended.key_sealed) == b"" and bytes(ended.token_sealed) == b""
        assert ended.token_hash != bearer.token_hash(token)
        assert self.post(move, token, sealing.seal({"format": "x"}, keys.public).ciphertext).status_code == 401

    def test_an_expired_move_forgets_its_key_and_token(self, move_in):
        from moves import bearer, services

        move, token, _ = move_in
        MoveIn.objects.filter(pk=move.pk).update(state=MoveIn.State.NEW, expires_at=timezone.now())
        services.expire()
        ended = MoveIn.objects.get(pk=move.pk)
        assert ended.state == MoveIn.State.EXPIRED
        assert bytes(ended.key_sealed) == b"" and ended.token_hash != bearer.token_hash(token)


class TestHostileInput:
    """Whatever another instance sends, the answer is a 4xx with a message, never a 500, and nothing changes."""

    @hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=st.binary(min_size=1, max_size=400))
    def test_any_bytes_as_a_package_are_refused(self, move_in, body):
        move, token, _ = move_in
        response = bearer_api(token).post(
            f"/api/moves/{move.public_id}/package", body, content_type="application/octet-stream"
        )
        assert response.status_code == 400 and response.json()["message"]
        assert MoveIn.objects.get(pk=move.pk).state == MoveIn.State.REQUESTED

    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        field=st.sampled_from(sorted(request_body())),
        value=st.one_of(st.none(), st.integers(), st.text(max_size=80), st.lists(st.integers(), max_size=3)),
    )
    def test_any_value_in_any_request_field_is_refused_or_taken_never_a_500(
        self, anon_api, grinder, settings, field, value
    ):
        settings.RATE_MOVES_REQUESTS_PER_CLIENT = "100000/60"
        response = anon_api.post(REQUESTS, {**request_body(did=grinder.did), field: value}, format="json")
        assert response.status_code in (200, 201, 400, 404, 409, 410), response.content
        assert "message" in response.json() or response.status_code in (200, 201)
