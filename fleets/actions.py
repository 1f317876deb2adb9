"""The bulk actions "Add to group" and "Remove from group" (bulk.actions): the job runner calls per_twin for each
selected thing in its own transaction; a refusal is an ActionRefused with words, listed on the job's result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from bulk.actions import ActionRefused, BulkAction, register_action
from fleets import services
from fleets.forms import GroupPickForm
from fleets.models import Group
from twins.models import Twin


def _group(params: Mapping[str, Any], owner) -> Group:
    # The group is read again for every thing: it may have been deleted while a long job runs.
    raw = str(params.get("group", ""))
    group = Group.objects.filter(pk=int(raw), owner_id=owner.pk).first() if raw.isdigit() else None
    if group is None:
        raise ActionRefused("The group is gone (deleted, or not one of yours).")
    return group


def add_to_group(twin: Twin, params: Mapping[str, Any], owner) -> None:
    group = _group(params, owner)
    try:
        services.members_add(group=group, twins=[twin])
    except ValidationError as exc:
        raise ActionRefused(f"{twin.name}: {' '.join(exc.messages)}") from None


def remove_from_group(twin: Twin, params: Mapping[str, Any], owner) -> None:
    group = _group(params, owner)
    if twin.owner_id != owner.pk:
        raise ActionRefused(f"{twin.name}: {services.NOT_YOURS}")
    services.members_remove(group=group, twins=[twin])


def connect() -> None:
    register_action(
        BulkAction(key="add-to-group", label="Add to group", per_twin=add_to_group, form=GroupPickForm, order=10)
    )
    register_action(
        BulkAction(
            key="remove-from-group", label="Remove from group", per_twin=remove_from_group, form=GroupPickForm, order=11
        )
    )
