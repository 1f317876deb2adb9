"""Alice's moves for the access matrix (tests/test_access_matrix.py): one she asked for on this host (a MoveIn, as
the destination) and one asked of her thing (a MoveOut, as the source). Wire-up wanted there: OBJECT_KWARGS gets
"move_in_id" and "move_out_id", PRIVATE_VALUES gets
``"move_in_id": lambda w: __import__("tests.moves.matrix", fromlist=["*"]).move_in_of(w).public_id`` and the same
for ``move_out_of``; and "api/moves/" joins PUBLIC_PREFIXES (instances call it, not people: the bearer token or,
for a request, the thing's owner confirming is the authority; tests/moves/test_api.py holds its 401s)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from core.vault import seal
from moves import bearer
from moves.models import MoveIn, MoveOut
from ssi import move as sealing
from ssi.keys import SigningKey
from ssi.webvh import next_key_hash

# Nothing listens on port 1: nothing a route does here reaches another host.
CLOSED = "http://127.0.0.1:1"


def move_in_of(world) -> MoveIn:
    existing = MoveIn.objects.filter(owner=world.alice).first()
    if existing is not None:
        return existing
    keys = sealing.new_keys()
    token = bearer.new_token()
    return MoveIn.objects.create(
        owner=world.alice,
        asked_for=f"{CLOSED}/things/matrix/",
        source_url=CLOSED,
        key_public=sealing.public_key_text(keys.public),
        key_sealed=seal(keys.private),
        token_sealed=bearer.sealed(token),
        token_hash=bearer.token_hash(token),
        remote_id="matrix",
        confirm_url=f"{CLOSED}/moves/out/matrix/",
        state=MoveIn.State.REQUESTED,
        expires_at=timezone.now() + timedelta(days=1),
    )


def move_out_of(world) -> MoveOut:
    existing = MoveOut.objects.filter(twin__owner=world.alice).first()
    if existing is not None:
        return existing
    token = bearer.new_token()
    return MoveOut.objects.create(
        twin=world.thing,
        remote_id="matrix",
        asked_as=world.thing.did,
        destination_url=CLOSED,
        destination_did_domain="b.localhost:1",
        key_public=sealing.public_key_text(sealing.new_keys().public),
        token_sealed=bearer.sealed(token),
        token_hash=bearer.token_hash(token),
        owner_update_key=SigningKey.generate().multibase,
        owner_next_key_hash=next_key_hash(SigningKey.generate().multibase),
        expires_at=timezone.now() + timedelta(days=1),
    )
