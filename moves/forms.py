"""The destination's form: which thing to bring here."""

from __future__ import annotations

from django import forms


class BringForm(forms.Form):
    source = forms.CharField(
        label="The thing's DID or address",
        max_length=500,
        help_text=("On your old host, open the thing's page and copy its DID (did:webvh:…) or the page's address."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
    )
