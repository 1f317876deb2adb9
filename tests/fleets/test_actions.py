"""The bulk actions "Add to group" and "Remove from group": registered, their form's cleaned data is JSON, and
their per_twin functions (called by bulk's job runner for each thing) refuse with words."""

import json

import pytest
from django.core.exceptions import ValidationError

from bulk.actions import ActionRefused, action_get
from fleets import actions, services
from fleets.forms import GroupPickForm
from twins import services as twin_services


def test_both_actions_are_registered_with_a_group_form():
    for key, function in (("add-to-group", actions.add_to_group), ("remove-from-group", actions.remove_from_group)):
        action = action_get(key)
        assert action is not None and action.per_twin is function and action.form is GroupPickForm


def test_the_form_offers_only_the_owners_groups_and_cleans_to_json(alice, carol, herd, farm):
    carols = services.group_create(owner=carol, name="Carol's")
    form = GroupPickForm({"group": str(farm["barn"].pk)}, owner=alice)
    assert form.is_valid()
    assert json.loads(json.dumps(form.cleaned_data)) == {"group": str(farm["barn"].pk)}
    assert [text for _, text in form.fields["group"].choices] == ["Farm", "Farm / Barn", "Herd"]
    form = GroupPickForm({"group": str(carols.pk)}, owner=alice)
    assert not form.is_valid() and "No such group among yours" in str(form.errors)


def test_add_to_group_adds_and_is_idempotent(alice, herd, cows):
    params = {"group": str(herd.pk)}
    actions.add_to_group(cows[0], params, alice)
    actions.add_to_group(cows[0], params, alice)
    assert list(herd.twins.all()) == [cows[0]]


def test_add_to_group_refuses_someone_elses_thing_or_group(alice, carol, herd, cows):
    carols = twin_services.twin_create(owner=carol, name="Carol's bike")
    with pytest.raises(ActionRefused, match="Carol's bike: Only your own things"):
        actions.add_to_group(carols, {"group": str(herd.pk)}, alice)
    # carol acting with alice's group id: the group is not hers.
    with pytest.raises(ActionRefused, match="group is gone"):
        actions.add_to_group(carols, {"group": str(herd.pk)}, carol)
    assert not herd.twins.exists()


def test_a_group_deleted_during_a_job_refuses_the_rest(alice, herd, cows):
    params = {"group": str(herd.pk)}
    actions.add_to_group(cows[0], params, alice)
    services.group_delete(group=herd)
    with pytest.raises(ActionRefused, match="group is gone"):
        actions.add_to_group(cows[1], params, alice)
    with pytest.raises(ActionRefused, match="group is gone"):
        actions.remove_from_group(cows[0], {"group": "nonsense"}, alice)


def test_remove_from_group_takes_things_out(alice, carol, herd, cows):
    services.members_add(group=herd, twins=cows)
    actions.remove_from_group(cows[0], {"group": str(herd.pk)}, alice)
    actions.remove_from_group(cows[0], {"group": str(herd.pk)}, alice)  # not in it any more: nothing to do
    assert set(herd.twins.all()) == set(cows[1:])
    carols = twin_services.twin_create(owner=carol, name="Carol's bike")
    with pytest.raises(ActionRefused, match="Only your own things"):
        actions.remove_from_group(carols, {"group": str(herd.pk)}, alice)


def test_a_bulk_job_adds_every_matching_thing_to_a_group_and_lists_refusals(alice, herd, farm, cows):
    from bulk.jobs import job_create, params_clean
    from bulk.selection import Selection

    # "Select all matching" the barn's filter, then "Add to group: Herd": the job stores the params as JSON.
    services.members_add(group=farm["barn"], twins=cows[:2])
    action = action_get("add-to-group")
    params = params_clean(action, {"group": str(herd.pk)}, alice)
    job = job_create(
        owner=alice, action=action, params=params, selection=Selection.from_params({"group": str(farm["barn"].pk)})
    )
    assert job.total == 2 and job.params == {"group": str(herd.pk)}
    assert set(herd.twins.all()) == set(cows[:2])
    with pytest.raises(ValidationError, match="No such group among yours"):
        params_clean(action, {"group": "999999"}, alice)
