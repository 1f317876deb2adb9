from __future__ import annotations

from django import forms

from core.parsers import loads
from core.validators import storable_text_form
from ingest.mapping import DEFAULT_MAPPING, SIGNATURE_MAPPING
from ingest.models import DEFAULT_RATE_LIMIT
from ingest.services import MAX_OVERLAP
from twins.models import Twin

POINTER_HELP = {
    "readings": "Where the list of readings is. If nothing is there, the whole payload is one reading.",
    "thing": "Relative to each reading: the thing's slug or external id.",
    "kind": "Relative to each reading. Default: the thing's reading kind.",
    "value": "Relative to each reading. Required.",
    "unit": "Relative to each reading. Default: the thing's unit.",
    "time": "Relative to each reading: RFC 3339 or Unix seconds. Default: when it arrives.",
    "signature": "Relative to each reading: a device's Ed25519 signature (see the thing's device keys).",
    "key": "Relative to each reading: the signing device key (z6Mk…); without it every key of the thing is tried.",
}
# Every mapping field the form edits: the reading fields, then the device signature's.
MAPPING_FIELDS = {**DEFAULT_MAPPING, **SIGNATURE_MAPPING}


@storable_text_form
class SourceCreateForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="e.g. “Acme cloud” or “Garden gateway”.")


@storable_text_form
class SourceForm(forms.Form):
    """Name, rate limit and mapping (one JSON Pointer per field, the device signature's included), with an optional
    sample payload to preview."""

    name = forms.CharField(max_length=120)
    rate_limit = forms.CharField(max_length=32, initial=DEFAULT_RATE_LIMIT, help_text="requests/seconds")
    readings = forms.CharField(max_length=300, required=False, strip=False, empty_value="")
    thing = forms.CharField(max_length=300, required=False, strip=False, empty_value="")
    kind = forms.CharField(max_length=300, required=False, strip=False, empty_value="")
    value = forms.CharField(max_length=300, required=False, strip=False, empty_value="")
    unit = forms.CharField(max_length=300, required=False, strip=False, empty_value="")
    time = forms.CharField(max_length=300, required=False, strip=False, empty_value="")
    signature = forms.CharField(max_length=300, required=False, strip=False, empty_value="")
    key = forms.CharField(max_length=300, required=False, strip=False, empty_value="", label="Device key")
    sample = forms.CharField(
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": '{"readings": [{"thing": "…", "value": 21.5}]}'}),
        help_text="Paste a payload your sender makes to see the readings it would give. Not saved.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, default in MAPPING_FIELDS.items():
            self.fields[name].help_text = f"{POINTER_HELP[name]} Default: <code>{default}</code>"
            self.fields[name].widget.attrs["placeholder"] = default

    @staticmethod
    def initial_for(source) -> dict:
        return {"name": source.name, "rate_limit": source.rate_limit, **(source.mapping or {})}

    def mapping(self) -> dict[str, str]:
        """Only the fields the owner filled in; blank ones use the default."""
        return {name: self.cleaned_data[name] for name in MAPPING_FIELDS if self.cleaned_data.get(name)}

    def clean_sample(self):
        text = self.cleaned_data["sample"]
        if not text.strip():
            return None
        try:
            return loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"The sample is not JSON: {exc}.") from None


@storable_text_form
class LinkForm(forms.Form):
    twin = forms.ModelChoiceField(queryset=Twin.objects.none(), label="Thing", to_field_name="slug")
    external_id = forms.CharField(
        max_length=200, required=False, help_text="The sender's name for it (device serial, cloud id). Optional."
    )

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["twin"].queryset = Twin.objects.owned_by(owner).active().order_by("name", "id")


class RotateForm(forms.Form):
    overlap_hours = forms.IntegerField(
        min_value=0,
        max_value=MAX_OVERLAP.days * 24,
        initial=24,
        label="Keep the old secret valid for (hours)",
        help_text="Time to switch your sender to the new secret. 0 ends the old secret now.",
    )
