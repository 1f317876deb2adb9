"""Forms of the sharing pages. The party and the things are chosen among the viewer's own only (the choices are
built from their selectors), so a forged id is a form error, never someone else's connection."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms
from django.http import Http404

from sharing import kinds as data_kinds
from sharing import selectors
from sharing.models import DATA_KINDS

KIND_CHOICES = [(kind, data_kinds.LABELS[kind]) for kind in DATA_KINDS]


def party_choices(viewer) -> list[tuple[str, str]]:
    choices = [("", "Choose who receives it")]
    for connection in selectors.connection_list(viewer=viewer):
        via = f" (via {connection.agent.twin.name})" if connection.agent.twin_id else ""
        choices.append((f"connection:{connection.pk}", f"{selectors.party_label(connection)}{via}"))
    for endpoint in selectors.endpoint_list(viewer=viewer).filter(disabled_at__isnull=True):
        choices.append((f"endpoint:{endpoint.pk}", selectors.party_label(endpoint)))
    return choices


class KindsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple


class GrantFieldsForm(forms.Form):
    kinds = KindsField(choices=KIND_CHOICES, required=False, label="What it receives")
    reading_kinds = forms.CharField(
        required=False,
        max_length=400,
        label="Or only these kinds of reading",
        help_text="Comma-separated, e.g. temperature, humidity.",
    )
    until = forms.DateField(
        required=False,
        label="Until (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The grant ends at the start of this day (UTC). Empty: until you revoke it.",
    )

    def clean(self) -> dict:
        data = super().clean()
        chosen = list(data.get("kinds") or [])
        chosen += [
            data_kinds.READING_PREFIX + name.strip()
            for name in (data.get("reading_kinds") or "").split(",")
            if name.strip()
        ]
        if not chosen and not self.errors:
            raise forms.ValidationError("Choose at least one kind of data to share.")
        data["all_kinds"] = chosen
        until = data.get("until")
        data["expires_at"] = datetime.combine(until, time.min, tzinfo=UTC) if until else None
        return data


class GrantForm(GrantFieldsForm):
    party = forms.ChoiceField(label="Share with")

    field_order = ["party", "kinds", "reading_kinds", "until"]

    def __init__(self, *args, viewer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.fields["party"].choices = party_choices(viewer)

    def clean_party(self):
        kind, _, pk = self.cleaned_data["party"].partition(":")
        try:
            if kind == "connection":
                return selectors.connection_get(viewer=self.viewer, connection_id=int(pk))
            if kind == "endpoint":
                return selectors.endpoint_get(viewer=self.viewer, endpoint_id=int(pk))
        except (Http404, ValueError):  # not one of the viewer's, or not a number: the same answer
            pass
        raise forms.ValidationError("Choose one of your connections or webhook endpoints.")


class BulkGrantForm(GrantForm):
    twins = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Things")

    field_order = ["twins", "party", "kinds", "reading_kinds", "until"]

    def __init__(self, *args, viewer, twins, **kwargs) -> None:
        super().__init__(*args, viewer=viewer, **kwargs)
        self.twin_map = {twin.slug: twin for twin in twins}
        self.fields["twins"].choices = [(twin.slug, twin.name) for twin in twins]

    def clean_twins(self):
        return [self.twin_map[slug] for slug in self.cleaned_data["twins"]]


class RequestAnswerForm(forms.Form):
    kinds = KindsField(choices=[], required=False, label="Grant")
    until = GrantFieldsForm.base_fields["until"]

    def __init__(self, *args, requested: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kinds"].choices = [(kind, data_kinds.label(kind)) for kind in requested]
        self.fields["kinds"].initial = requested

    def clean(self) -> dict:
        data = super().clean()
        until = data.get("until")
        data["expires_at"] = datetime.combine(until, time.min, tzinfo=UTC) if until else None
        return data


class EndpointForm(forms.Form):
    label = forms.CharField(max_length=120, label="Name", help_text="Who receives it, e.g. Acme Insurance.")
    url = forms.CharField(
        max_length=2000, label="URL", help_text="https:// address that takes Standard Webhooks POSTs."
    )
