"""A package larger than one request moves in chunks (moves.chunks, moves.steps.push_package): the source pushes
it a chunk at a time over real HTTP (both roles on one live server, tests/moves/conftest.py), the destination keeps
what arrived in a file and says where to go on, and opens it once whole and its SHA-256 checks."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from moves import bearer, chunks, services
from moves.models import MoveIn, MoveOut
from ssi import move as sealing
from tests.moves.conftest import bearer_api, confirm, make_room

REQUEST_LIMIT = 64 * 1024


def _noisy_photo(side: int = 420) -> bytes:
    """A PNG of random pixels: it does not compress, so the package is about its size."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def small_requests(settings):
    """Requests of 64 KiB at most on this instance; packages up to 4 MiB."""
    settings.REQUEST_MAX_BYTES = REQUEST_LIMIT
    settings.MOVES_MAX_PACKAGE_BYTES = 4 * 1024 * 1024


def _url(move: MoveIn) -> str:
    return f"/api/moves/{move.public_id}/package/chunks"


def _chunk(api, move: MoveIn, data: bytes, *, offset: int, size: int, sealed_sha256: str):
    query = f"?sealed_sha256={sealed_sha256}&offset={offset}&size={size}"
    return api.post(_url(move) + query, data, content_type="application/octet-stream")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("one_database_parts", "small_requests")
class TestOverHttp:
    def _confirmed(self, bob, alice, grinder) -> tuple[MoveIn, MoveOut]:
        grinder.photo.save("big.png", ContentFile(_noisy_photo()), save=True)
        move_in = services.move_request(owner=bob, source=grinder.did)
        move_out = MoveOut.objects.get(remote_id=move_in.public_id)
        return move_in, move_out

    def test_a_package_several_times_the_request_limit_moves_in_chunks(self, roles, alice, bob, grinder):
        move_in, move_out = self._confirmed(bob, alice, grinder)
        with transaction.atomic():  # the push runs once this commits
            confirm(move_out=move_out, by=alice)
            sealed_size = len(MoveOut.objects.get(pk=move_out.pk).sealed)
            make_room(grinder)
        assert sealed_size > 4 * REQUEST_LIMIT  # one request could not carry it
        move_out.refresh_from_db()
        move_in.refresh_from_db()
        assert (move_out.state, move_in.state) == (MoveOut.State.DONE, MoveIn.State.DONE), (move_out.error, move_in)
        assert move_in.sha256 == move_out.sha256
        assert move_in.twin.photo  # the photo travelled (re-encoded on arrival, as any upload)
        assert list(chunks.folder().glob("*.part")) == []  # nothing of the package stays on disk

    def test_a_push_cut_short_goes_on_from_where_the_destination_copy_ends(
        self, roles, alice, bob, grinder, no_worker, monkeypatch
    ):
        move_in, move_out = self._confirmed(bob, alice, grinder)
        confirm(move_out=move_out, by=alice)
        make_room(grinder)
        sealed = bytes(MoveOut.objects.get(pk=move_out.pk).sealed)
        whole = hashlib.sha256(sealed).hexdigest()
        # The source was killed after two chunks had arrived.
        api = bearer_api(bearer.opened(move_in.token_sealed))
        for offset in (0, 60_000):
            piece = sealed[offset : offset + 60_000]
            assert _chunk(api, move_in, piece, offset=offset, size=len(sealed), sealed_sha256=whole).status_code == 200
        received = []
        append = chunks.append
        monkeypatch.setattr(chunks, "append", lambda move, **kw: received.append(kw["offset"]) or append(move, **kw))

        assert services.moves_resume() == 1  # the push again: it asks where to go on
        move_out.refresh_from_db()
        move_in.refresh_from_db()
        assert (move_out.state, move_in.state) == (MoveOut.State.PUSHED, MoveIn.State.ARRIVED), move_out.error
        assert received[0] == 120_000 and received == sorted(received)  # nothing was sent twice
        assert move_in.sha256 == move_out.sha256


@pytest.fixture
def move_in(alice) -> tuple[MoveIn, str, sealing.MoveKeys]:
    from core.vault import seal

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


@pytest.mark.django_db
@pytest.mark.usefixtures("small_requests")
class TestChunks:
    def test_a_chunk_at_another_offset_is_refused_and_says_where_to_go_on(self, move_in):
        move, token, _ = move_in
        api = bearer_api(token)
        data = secrets.token_bytes(5000)
        whole = hashlib.sha256(data).hexdigest()
        assert _chunk(api, move, data[:2000], offset=0, size=5000, sealed_sha256=whole).json()["offset"] == 2000
        wrong = _chunk(api, move, data[3000:], offset=3000, size=5000, sealed_sha256=whole)
        assert wrong.status_code == 409
        assert wrong.json()["extra"]["offset"] == 2000 and "offset 2000" in wrong.json()["message"]
        held = api.get(_url(move) + f"?sealed_sha256={whole}")
        assert held.status_code == 200 and held.json()["offset"] == 2000
        assert held.json()["chunk_bytes"] == REQUEST_LIMIT

    def test_a_package_whose_bytes_do_not_match_its_sha256_is_refused_and_dropped(self, move_in):
        move, token, keys = move_in
        api = bearer_api(token)
        sealed = sealing.seal({"format": "x"}, keys.public).ciphertext
        claimed = hashlib.sha256(b"another package").hexdigest()
        answer = _chunk(api, move, sealed, offset=0, size=len(sealed), sealed_sha256=claimed)
        assert answer.status_code == 400 and "sealed_sha256" in answer.json()["message"]
        assert api.get(_url(move) + f"?sealed_sha256={claimed}").json()["offset"] == 0
        assert MoveIn.objects.get(pk=move.pk).state == MoveIn.State.REQUESTED

    def test_a_package_over_the_cap_is_413_in_words_before_a_byte_is_kept(self, move_in, settings):
        move, token, _ = move_in
        settings.MOVES_MAX_PACKAGE_BYTES = 10_000
        whole = hashlib.sha256(b"x").hexdigest()
        answer = _chunk(bearer_api(token), move, b"x" * 100, offset=0, size=10_001, sealed_sha256=whole)
        assert answer.status_code == 413 and "10000 bytes" in answer.json()["message"]
        assert list(chunks.folder().glob("*.part")) == []

    def test_a_chunk_past_the_declared_size_or_a_bad_sha256_is_400(self, move_in):
        move, token, _ = move_in
        api = bearer_api(token)
        whole = hashlib.sha256(b"x").hexdigest()
        assert _chunk(api, move, b"x" * 100, offset=0, size=50, sealed_sha256=whole).status_code == 400
        bad = _chunk(api, move, b"x", offset=0, size=50, sealed_sha256="not-hex")
        assert bad.status_code == 400 and "64 hex digits" in bad.json()["message"]

    def test_a_move_that_ended_takes_no_chunk_and_forgets_what_it_held(self, move_in):
        move, token, _ = move_in
        api = bearer_api(token)
        whole = hashlib.sha256(b"y" * 10).hexdigest()
        assert _chunk(api, move, b"y" * 5, offset=0, size=10, sealed_sha256=whole).status_code == 200
        services.move_cancel(move=move, by=move.owner)
        assert list(chunks.folder().glob("*.part")) == []
        answer = _chunk(api, move, b"y" * 5, offset=5, size=10, sealed_sha256=whole)
        assert answer.status_code in (401, 410)  # the ended move forgot its token

    def test_a_package_nobody_added_to_for_a_day_is_dropped_when_another_begins(self, move_in, alice):
        move, token, _ = move_in
        api = bearer_api(token)
        whole = hashlib.sha256(b"z" * 10).hexdigest()
        assert _chunk(api, move, b"z" * 5, offset=0, size=10, sealed_sha256=whole).status_code == 200
        (stale,) = chunks.folder().glob("*.part")
        day_ago = stale.stat().st_mtime - chunks.STALE_SECONDS - 60
        os.utime(stale, (day_ago, day_ago))
        other = MoveIn.objects.create(
            owner=alice,
            asked_for="https://a.example/things/y/",
            source_url=move.source_url,
            key_public=move.key_public,
            key_sealed=move.key_sealed,
            token_sealed=bearer.sealed(token2 := bearer.new_token()),
            token_hash=bearer.token_hash(token2),
            expires_at=move.expires_at,
            state=MoveIn.State.REQUESTED,
        )
        assert _chunk(bearer_api(token2), other, b"z" * 5, offset=0, size=10, sealed_sha256=whole).status_code == 200
        assert [path.name.split(".")[0] for path in chunks.folder().glob("*.part")] == [other.public_id]
