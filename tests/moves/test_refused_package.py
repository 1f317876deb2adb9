"""A package that opens but is refused ends the move on the destination (review finding 1): a hostile "source"
cannot push package after package to learn, refusal by refusal, what exists on this host."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from moves import bearer
from moves.models import MoveIn
from ssi import move as sealing
from tests.moves.conftest import bearer_api

pytestmark = [pytest.mark.django_db]


def test_a_refused_package_ends_the_move_and_the_next_one_is_not_opened(alice):
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
        scid="QmfGEUAcMpzo25kF2Rhn8L5FAXysfGnkzjwdKoNPi615XQ",
    )
    api = bearer_api(token)
    url = f"/api/moves/{move.public_id}/package"
    probe = sealing.seal({"format": "x", "move": {"destination": "https://elsewhere.example"}}, keys.public)
    answer = api.post(url, probe.ciphertext, content_type="application/octet-stream")
    assert answer.status_code == 400 and "another instance" in answer.json()["message"]
    ended = MoveIn.objects.get(pk=move.pk)
    assert ended.state == MoveIn.State.FAILED and "another instance" in ended.error
    again = api.post(url, probe.ciphertext, content_type="application/octet-stream")
    assert again.status_code == 401  # the move forgot its token: nothing more is opened for it
