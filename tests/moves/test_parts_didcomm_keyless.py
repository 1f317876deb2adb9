"""A connection that arrives without its private key holds no pairwise key here (review finding 2, residual): its
``my_verkey`` is the package's word, so a recipient key naming it is left out unless it is the agent's own key
(a connection made before pairwise keys). Otherwise a package could point another agent's key at the arriving
agent, and that agent's own registration here would then collide."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest

from didcomm import keys, outbox, services
from didcomm.models import Agent, Connection, RecipientKey
from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)
from twins import services as twin_services
from twins.identity import agent_key
from twins.models import new_public_id

pytestmark = [pytest.mark.django_db, pytest.mark.needs("didcomm"), pytest.mark.usefixtures("on_a")]


def _keyless(agent: dict, verkey: str) -> None:
    """Add a connection without its private key that names ``verkey`` as ours, and a recipient key for it."""
    row = {
        **agent["connections"][0],
        "id": 999_999,
        "my_key": None,
        "next_key": None,
        "my_verkey": verkey,
        "next_verkey": "",
        "thread_id": new_public_id(),
        "invitation_id": "",
        "invitation_url": "",
    }
    agent["connections"].append(row)
    agent["recipient_keys"].append({"verkey": verkey, "connection": 999_999})


def test_a_keyless_connection_naming_another_agents_key_does_not_take_it(mover, grinder, bob, carol):
    bike = twin_services.twin_create(owner=carol, name="Carol's bike")
    victim = keys.verkey_of(agent_key(bike))  # public: the bike's DID document lists it
    outbox.invitation_create(agent=services.agent_for_twin(grinder))

    _, arrived = mover(grinder, to_owner=bob, tamper=lambda package: _keyless(package["parts"]["didcomm"], victim))

    assert not RecipientKey.objects.filter(verkey=victim).exists()
    assert Connection.objects.filter(agent__twin=arrived, my_verkey=victim).exists()  # the record, holding nothing
    assert keys.recipient_key_ensure(agent=services.agent_for_twin(bike)) == victim
    assert RecipientKey.objects.get(verkey=victim).agent.twin_id == bike.pk


def test_a_keyless_connection_on_the_agents_own_key_keeps_it(mover, grinder, bob):
    outbox.invitation_create(agent=services.agent_for_twin(grinder))
    own = keys.verkey_of(agent_key(grinder))

    def tamper(package: dict) -> None:
        agent = package["parts"]["didcomm"]
        # The old connection's row names the agent's own key (the source has that key once, on the connection).
        agent["recipient_keys"] = [row for row in agent["recipient_keys"] if row["verkey"] != own]
        _keyless(agent, own)

    _, arrived = mover(grinder, to_owner=bob, tamper=tamper)

    assert RecipientKey.objects.get(verkey=own).agent == Agent.objects.get(twin=arrived)
