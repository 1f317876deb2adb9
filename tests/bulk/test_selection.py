"""A selection is the owner's own things only: ticked or all matching the cards page's filters."""

from __future__ import annotations

from bulk.selection import Selection
from credentials import keepers
from credentials.models import AccessCredential
from tests.bulk.conftest import make_things
from twins import services as twin_services


def test_a_selection_never_includes_another_owners_thing_or_a_kept_one(alice, bob, carol, drills):
    carols = make_things(carol, 1, prefix="Carol's drill")[0]
    bobs = make_things(bob, 1, prefix="Bob's cow")[0]
    role, capabilities = AccessCredential.Role.KEEPER, keepers.KEEPER_CAPABILITIES
    keepers.access_credential_issue(twin=bobs, issued_by=bob, holder=alice, role=role, capabilities=capabilities)
    ticked = Selection.from_params({}, [drills[0].slug, carols.slug, bobs.slug])
    assert list(ticked.twins(alice)) == [drills[0]]
    every = Selection.from_params({}, [])
    assert set(every.twins(alice)) == set(drills)
    assert list(every.twins(carol)) == [carols]


def test_all_matching_follows_the_filters_and_leaves_the_others(alice, drills):
    twin_services.twin_set_lost(twin=drills[1], lost=True)
    twin_services.twin_set_lost(twin=drills[2], lost=True)
    lost = Selection.from_params({"lost": "yes", "page": "3", "csrfmiddlewaretoken": "x"})
    assert lost.query == "lost=yes"  # only the list's filters travel
    assert set(lost.twins(alice)) == {drills[1], drills[2]}
    named = Selection.from_params({"q": "Drill 003"})
    assert list(named.twins(alice)) == [drills[3]]


def test_ticked_things_are_narrowed_by_the_filters_too(alice, drills):
    twin_services.twin_set_archived(twin=drills[0], archived=True)
    ticked = Selection.from_params({}, [drills[0].slug, drills[1].slug])
    assert list(ticked.twins(alice)) == [drills[1]]  # an archived thing is on the archive's page, not this one
    archived = Selection.from_params({"archived": "1"}, [drills[0].slug, drills[1].slug])
    assert list(archived.twins(alice)) == [drills[0]]


def test_a_selection_round_trips_through_json(drills):
    selection = Selection.from_params({"q": "Drill"}, [drills[0].slug])
    assert Selection.from_json(selection.as_json()) == selection


def test_an_action_without_its_own_question_asks_with_its_label():
    from bulk.actions import BulkAction

    plain = BulkAction("paint", "Paint blue", per_twin=lambda twin, params, owner: None)
    assert plain.ask("3 things") == "Paint blue: 3 things?"
    worded = BulkAction("paint", "Paint", per_twin=lambda t, p, o: None, question="Paint {things} blue?")
    assert worded.ask("1 thing") == "Paint 1 thing blue?"
