"""The other agent of most didcomm tests: a peer's key, and a completed connection of the grinder's agent with it
(over a pairwise key of ours; their endpoint refuses connections). Test modules that need another shape of either
define their own."""

from __future__ import annotations

import pytest

from didcomm.models import Connection
from ssi.keys import SigningKey
from tests.didcomm.endpoints import closed_port, completed_connection


@pytest.fixture
def peer() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def connection(grinder, peer) -> Connection:
    return completed_connection(
        twin=grinder,
        peer=peer,
        their_label="Peer",
        their_endpoint=f"http://127.0.0.1:{closed_port()}/",  # refused: nothing sent there would arrive
    )
