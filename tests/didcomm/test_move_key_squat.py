"""A package cannot point another agent's key at the arriving agent (review finding 2): on restore the agent
takes only the recipient keys whose private half it holds (its own key, its connections' pairwise and pending
keys), and an agent registering its own key takes back a row of it that names another agent."""

from __future__ import annotations

import pytest

from didcomm import inbound, keys, outbox, services
from didcomm.models import Agent, RecipientKey
from tests.moves import test_parts_harness as harness
from twins import services as twin_services
from twins.identity import agent_key

pytestmark = pytest.mark.django_db

on_a, mover = harness.on_a, harness.mover  # the fixtures


def test_a_package_listing_another_twins_agent_key_does_not_take_it_and_that_twin_stays_reachable(
    on_a, mover, grinder, bob, carol
):
    bike = twin_services.twin_create(owner=carol, name="Carol's bike")
    victim = keys.verkey_of(agent_key(bike))  # public: the bike's DID document lists it
    outbox.invitation_create(agent=services.agent_for_twin(grinder))  # the grinder's own key, registered

    def squat(package: dict) -> None:
        package["parts"]["didcomm"]["recipient_keys"].append({"verkey": victim, "connection": None})

    _, arrived = mover(grinder, to_owner=bob, tamper=squat, activate=True)

    assert not RecipientKey.objects.filter(verkey=victim).exists()
    # Its own key came along (it holds that one).
    own = keys.verkey_of(agent_key(arrived))
    assert list(
        RecipientKey.objects.filter(agent=Agent.objects.get(twin=arrived)).values_list("verkey", flat=True)
    ) == [own]
    # Carol's invitation registers her bike's key for her bike's agent: envelopes to it find her agent.
    outbox.invitation_create(agent=services.agent_for_twin(bike))
    found = inbound._my_keys([victim])
    assert found[victim].agent.twin_id == bike.pk


def test_an_agent_registering_its_own_key_takes_back_a_row_of_it_naming_another_agent(grinder, carol):
    bike = twin_services.twin_create(owner=carol, name="Carol's bike")
    victim = keys.verkey_of(agent_key(bike))
    RecipientKey.objects.create(agent=services.agent_for_twin(grinder), verkey=victim)  # however it got there

    assert keys.recipient_key_ensure(agent=services.agent_for_twin(bike)) == victim

    assert RecipientKey.objects.get(verkey=victim).agent.twin_id == bike.pk
    assert inbound._my_keys([victim])[victim].agent.twin_id == bike.pk
