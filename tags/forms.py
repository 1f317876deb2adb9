from __future__ import annotations

import re

from django import forms
from django.core.validators import validate_email

from core.validators import storable_text_form

# A phone number as people write it: digits with spaces, dots, dashes, brackets, a leading +.
_PHONE = re.compile(r"\+?[0-9][0-9 ().\-/]{3,38}[0-9]")


@storable_text_form
class MessageForm(forms.Form):
    """A finder's note to the owner. Only the message is required: a finder may stay anonymous."""

    message = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 4}), label="Message to the owner")
    name = forms.CharField(required=False, max_length=100, label="Your name (optional)")
    contact = forms.CharField(
        required=False,
        max_length=254,
        label="Email or phone (optional)",
        help_text="So the owner can reply. It is sent to them only.",
    )

    def clean_message(self) -> str:
        message = self.cleaned_data["message"].strip()
        if not message:
            raise forms.ValidationError("Write a message.")
        return message

    def clean_contact(self) -> str:
        contact = self.cleaned_data["contact"].strip()
        if not contact:
            return ""
        if "@" in contact:
            validate_email(contact)
        elif not _PHONE.fullmatch(contact):
            raise forms.ValidationError("Enter an email address or a phone number.")
        return contact


class ClaimForm(forms.Form):
    """Which of the viewer's things a pre-printed tag goes on."""

    thing = forms.ChoiceField(label="Attach this tag to")

    def __init__(self, *args, things, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.things = {twin.slug: twin for twin in things}
        self.fields["thing"].choices = [(twin.slug, twin.name) for twin in things]

    def clean_thing(self):
        return self.things[self.cleaned_data["thing"]]


@storable_text_form
class TagForm(forms.Form):
    label = forms.CharField(
        required=False, max_length=80, help_text="Optional, for you: where the sticker is, e.g. “lid”."
    )


class NfcProvisionForm(forms.Form):
    """Which of a thing's active tags get fresh NTAG 424 DNA SUN keys, and the file's format."""

    tags = forms.MultipleChoiceField(
        label="Tags to program as NTAG 424 DNA chips",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one tag."},
    )
    format = forms.ChoiceField(
        choices=[("json", "JSON"), ("csv", "CSV")], initial="json", label="File format for your programming tool"
    )
    replace = forms.BooleanField(
        required=False,
        label="Replace keys that exist (then program those chips again: the file has their current keys too, "
        "which keep working until a chip answers under its new ones)",
    )

    def __init__(self, *args, tags, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.by_id = {str(tag.pk): tag for tag in tags}
        self.fields["tags"].choices = [(str(tag.pk), tag.display_code) for tag in tags]

    def clean_tags(self) -> list:
        return [self.by_id[tag_id] for tag_id in self.cleaned_data["tags"]]


class NfcSettingForm(forms.Form):
    genuine_tap_for_readings = forms.BooleanField(
        required=False,
        label="Require a genuine tap for one-tap readings logged from a scan",
        help_text="A reading from the scan page is then accepted only within minutes of a tap of this thing's "
        "NTAG 424 DNA tag (a copied link is refused): it proves the thing was in hand, as for a keeper's check-in.",
    )
