"""The built-in bulk actions: set an attribute, lost and found, archive and unarchive, grant and revoke a data
kind; and the whole-selection ones, print labels and export bundles (bulk.sheets). Registered in connect()."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from bulk import sheets
from bulk.actions import ActionRefused, BulkAction, register_action
from sharing import grants
from sharing import kinds as data_kinds
from sharing import selectors as sharing_selectors
from sharing.forms import GrantFieldsForm, party_choices
from sharing.models import Grant, WebhookEndpoint
from twins import services
from twins.models import Twin


class ParamsForm(forms.Form):
    """An action's parameters: built as ``Form(data, owner=owner)``; cleaned_data is plain JSON."""

    def __init__(self, *args: Any, owner: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner


# --- Set an attribute ---------------------------------------------------------------------------------------------


class AttributeForm(ParamsForm):
    name = forms.CharField(label="Attribute", max_length=100, help_text="For example colour, or floor.")
    value = forms.CharField(label="Value", max_length=500, required=False, help_text="Empty removes the attribute.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "name" in data and "value" in data:
            try:
                cleaned = services.validate_attributes({data["name"]: data["value"] or "x"})
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from None
            data["name"] = next(iter(cleaned))
        return data


def set_attribute(twin: Twin, params: Mapping[str, Any], owner: Any) -> None:
    attributes = dict(twin.attributes or {})
    if params.get("value", ""):
        attributes[params["name"]] = params["value"]
    else:
        attributes.pop(params["name"], None)
    services.twin_update(twin=twin, attributes=attributes)


# --- Lost, found, archive ---------------------------------------------------------------------------------------


class LostForm(ParamsForm):
    reward = forms.CharField(
        label="Reward (optional)", max_length=200, required=False, help_text="Shown to finders on each thing's page."
    )


def mark_lost(twin: Twin, params: Mapping[str, Any], owner: Any) -> None:
    services.twin_set_lost(twin=twin, lost=True, reward=params.get("reward", "") or "")


def mark_found(twin: Twin, params: Mapping[str, Any], owner: Any) -> None:
    if not twin.lost:
        raise ActionRefused("It was not marked lost.")
    services.twin_set_lost(twin=twin, lost=False)


def archive(twin: Twin, params: Mapping[str, Any], owner: Any) -> None:
    if twin.archived_at is not None:
        raise ActionRefused("It is archived already.")
    services.twin_set_archived(twin=twin, archived=True)


def unarchive(twin: Twin, params: Mapping[str, Any], owner: Any) -> None:
    if twin.archived_at is None:
        raise ActionRefused("It is not archived.")
    services.twin_set_archived(twin=twin, archived=False)


# --- Grant and revoke a data kind ---------------------------------------------------------------------------------


class PartyForm(ParamsForm):
    party = forms.ChoiceField(label="Party", help_text="One of your connections or webhook endpoints.")

    def __init__(self, *args: Any, owner: Any, **kwargs: Any) -> None:
        super().__init__(*args, owner=owner, **kwargs)
        # The owner's own parties only: a forged id is not among the choices, so it is a form error.
        self.fields["party"].choices = party_choices(owner)


class GrantParamsForm(PartyForm, GrantFieldsForm):
    field_order = ["party", "kinds", "reading_kinds", "until"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            chosen = data_kinds.clean_kinds(data["all_kinds"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        expires = data["expires_at"]
        if expires is not None and expires <= timezone.now():
            raise forms.ValidationError("The end of a grant must be in the future.")
        # JSON only: the job keeps these as they are for the worker.
        return {"party": data["party"], "kinds": chosen, "expires_at": expires.isoformat() if expires else None}


def _party(params: Mapping[str, Any], owner: Any) -> grants.Party:
    kind, _, pk = str(params.get("party", "")).partition(":")
    try:
        if kind == "connection":
            return sharing_selectors.connection_get(viewer=owner, connection_id=int(pk))
        if kind == "endpoint":
            return sharing_selectors.endpoint_get(viewer=owner, endpoint_id=int(pk))
    except (Http404, ValueError):
        pass
    raise ActionRefused("That party is no longer one of yours.")


def grant_kind(twin: Twin, params: Mapping[str, Any], owner: Any) -> None:
    expires = params.get("expires_at")
    grants.grant_create(
        twin=twin,
        party=_party(params, owner),
        kinds=list(params.get("kinds") or []),
        expires_at=datetime.fromisoformat(expires) if expires else None,
        by=owner,
    )


def revoke_kind(twin: Twin, params: Mapping[str, Any], owner: Any) -> None:
    party = _party(params, owner)
    field = "endpoint" if isinstance(party, WebhookEndpoint) else "connection"
    grant = Grant.objects.active(timezone.now()).filter(twin=twin, **{field: party}).first()
    if grant is None:
        raise ActionRefused(f"It shares nothing with {sharing_selectors.party_label(party)}: nothing to revoke.")
    grants.grant_revoke(grant=grant, by=owner)


BUILTIN = (
    BulkAction(
        "set-attribute",
        "Set an attribute",
        per_twin=set_attribute,
        form=AttributeForm,
        order=20,
        question="Set this attribute on {things}?",
    ),
    BulkAction("mark-lost", "Mark lost", per_twin=mark_lost, form=LostForm, order=30, question="Mark {things} lost?"),
    BulkAction("mark-found", "Mark found", per_twin=mark_found, order=31, question="Mark {things} found?"),
    BulkAction(
        "grant",
        "Share a data kind",
        per_twin=grant_kind,
        form=GrantParamsForm,
        confirm=True,
        order=40,
        question="Share this with the party for {things}?",
    ),
    BulkAction(
        "revoke",
        "Stop sharing with a party",
        per_twin=revoke_kind,
        form=PartyForm,
        confirm=True,
        order=41,
        question="Stop sharing {things} with the party?",
    ),
    BulkAction("print-labels", "Print labels", whole=sheets.labels, order=60, question="Print the labels of {things}?"),
    BulkAction(
        "export-bundles",
        "Export verifiable bundles (zip)",
        whole=sheets.bundles,
        order=70,
        question="Export the verifiable bundles of {things}?",
    ),
    BulkAction("archive", "Archive", per_twin=archive, confirm=True, order=90, question="Archive {things}?"),
    BulkAction(
        "unarchive",
        "Restore from the archive",
        per_twin=unarchive,
        order=91,
        question="Restore {things} from the archive?",
    ),
)


def connect() -> None:
    for action in BUILTIN:
        register_action(action)
