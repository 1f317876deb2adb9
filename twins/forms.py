from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from core.validators import storable_text_form
from twins.models import ICONS, JournalNote, Twin
from twins.services import validate_attributes


class AttributesField(forms.CharField):
    """Free key/values typed as "name: value" lines."""

    widget = forms.Textarea(attrs={"rows": 4, "placeholder": "colour: red\nbought: 2024-05-01"})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{key}: {item}" for key, item in value.items())
        if isinstance(value, str) and value.startswith("{"):
            try:
                return self.prepare_value(json.loads(value))
            except ValueError:
                return value
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        pairs: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if ":" not in line:
                raise forms.ValidationError(f'Line {number} needs a colon: "name: value".')
            key, item = line.split(":", 1)
            pairs[key.strip()] = item.strip()
        try:
            return validate_attributes(pairs)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["attributes"]) from None


@storable_text_form
class TwinForm(forms.ModelForm):
    attributes = AttributesField(required=False, max_length=30000)

    class Meta:
        model = Twin
        fields = ("name", "icon", "model_name", "serial", "description", "reading_kind", "reading_unit", "attributes")
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "reading_kind": "What you log when you scan its tag, e.g. glucose, weight, grind size.",
            "reading_unit": "e.g. mg/dL, kg, °C.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Words, not the model's emoji labels: an <option> cannot hold an SVG icon, and emoji need an emoji font.
        self.fields["icon"].choices = [(key, key.title()) for key in ICONS]


class PhotoForm(forms.Form):
    photo = forms.FileField(help_text="JPEG, PNG, WebP or GIF, up to 8 MB.")


@storable_text_form
class PublicSettingsForm(forms.ModelForm):
    class Meta:
        model = Twin
        fields = ("show_thing_name", "show_photo", "show_description", "use_profile_contact", *Twin.CONTACT_FIELDS)
        labels = {
            "show_thing_name": "Show the thing's name",
            "show_photo": "Show the photo",
            "show_description": "Show the description",
            "use_profile_contact": "Use the contact card from my profile",
            **Twin.CONTACT_LABELS,
            **{name: "Show" for name in Twin.CONTACT_FIELDS if name.startswith("show_")},
        }
        widgets = {"contact_message": forms.Textarea(attrs={"rows": 3})}


@storable_text_form
class LostForm(forms.Form):
    lost = forms.BooleanField(required=False, label="This thing is lost")
    lost_reward = forms.CharField(required=False, max_length=200, label="Reward (optional)")


@storable_text_form
class ReadingForm(forms.Form):
    value = forms.CharField(max_length=40)
    note = forms.CharField(required=False, max_length=200)


@storable_text_form
class NoteForm(forms.ModelForm):
    time = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for now.",
    )

    class Meta:
        model = JournalNote
        fields = ("title", "text", "time")
        widgets = {"text": forms.Textarea(attrs={"rows": 4})}
