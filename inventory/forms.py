"""HTML forms of places and labels. The services validate again (names, cycles, owners): forms only parse."""

from __future__ import annotations

from django import forms

from inventory.labels import NAME_MAX as LABEL_NAME_MAX
from inventory.labels import PALETTE
from inventory.locations import NAME_MAX as LOCATION_NAME_MAX


class LocationForm(forms.Form):
    name = forms.CharField(max_length=LOCATION_NAME_MAX, help_text="A home, a room, a shelf, a drawer…")
    parent = forms.ChoiceField(label="Inside", required=False, choices=[("", "Nothing (top level)")])

    def __init__(self, *args, choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", "Nothing (top level)"), *choices]


class LabelForm(forms.Form):
    name = forms.CharField(max_length=LABEL_NAME_MAX)
    colour = forms.CharField(
        max_length=7,
        initial=PALETTE[0],
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text="The text on the label is black or white, whichever reads better on it.",
    )
