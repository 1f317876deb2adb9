"""Real concurrent transactions on PostgreSQL: two buyers accept one handover at the same instant.

SQLite serialises writers, so the race only means something on PostgreSQL (the PostgreSQL pass runs it).
"""

from __future__ import annotations

import pytest
from django.db import connection

from handover.models import Handover
from handover.services import HandoverRefused, handover_accept, handover_create
from tests.conftest import run_together
from tests.handover.conftest import fresh
from twins.identity import log_state
from twins.models import TransferOffer
from twins.transfer import buyer_keys
from twins.verification import verify_twin

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL"
    ),
]


def test_two_buyers_accepting_one_handover_at_once_make_exactly_one_owner_of_every_thing(herd, alice, bob, carol):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    buyers = {"bob": bob, "carol": carol}

    def accept(buyer):
        return lambda: handover_accept(handover=Handover.objects.get(pk=handover.pk), buyer=buyer)

    outcomes = dict(zip(buyers, run_together(*(accept(buyer) for buyer in buyers.values())), strict=True))

    winners = [name for name, (kind, _) in outcomes.items() if kind == "ok"]
    losers = [name for name, (kind, _) in outcomes.items() if kind == "error"]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    refusal = outcomes[losers[0]][1]
    assert isinstance(refusal, HandoverRefused), repr(refusal)
    assert refusal.status == 409 and refusal.message.strip()

    winner = buyers[winners[0]]
    handover.refresh_from_db()
    assert handover.status == Handover.Status.COMPLETED and handover.buyer_id == winner.pk
    for twin in fresh(herd):
        assert twin.owner_id == winner.pk
        state = log_state(twin)
        # Inception + the two transfer entries; nothing from the loser.
        assert state.version_number == 3
        assert state.update_keys == (buyer_keys(winner, twin).update_key,)
        assert verify_twin(twin).ok
    assert TransferOffer.objects.filter(twin__in=herd, status=TransferOffer.Status.COMPLETED).count() == 3


def test_a_single_offer_racing_a_handover_for_the_same_thing_never_moves_it_twice(herd, alice, bob, carol):
    """The handover's buyer and a single offer's buyer accept at once: the thing ends with exactly one of them
    and its log has exactly one hand-over. offer_create now refuses a thing in an open handover (handover.guards),
    so the single offer is written straight to the database, as one made before that guard existed would be."""
    from datetime import timedelta

    from django.utils import timezone

    from twins.transfer import offer_accept

    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    single = TransferOffer.objects.create(
        twin=herd[0], seller=alice, redact_kinds=[], expires_at=timezone.now() + timedelta(days=1)
    )

    outcomes = run_together(
        lambda: handover_accept(handover=Handover.objects.get(pk=handover.pk), buyer=bob),
        lambda: offer_accept(offer=TransferOffer.objects.get(pk=single.pk), buyer=carol),
    )

    assert [kind for kind, _ in outcomes].count("ok") >= 1, outcomes
    first = fresh(herd)[0]
    assert first.owner_id in (bob.pk, carol.pk)
    assert log_state(first).version_number == 3
    assert verify_twin(first).ok
    owners = {twin.owner_id for twin in fresh(herd)}
    # All or nothing: either bob has all three, or none moved to him.
    assert owners == {bob.pk} or bob.pk not in owners
