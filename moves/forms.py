"""The moves' forms: which thing to bring here (the destination), and the pairing code that confirms a move (the
source; moves.pairing)."""

from __future__ import annotations

from django import forms


class BringForm(forms.Form):
    source = forms.CharField(
        label="The thing's DID or address",
        max_length=500,
        help_text=("On your old host, open the thing's page and copy its DID (did:webvh:…) or the page's address."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
    )


class PairingForm(forms.Form):
    """The code the new host shows on the move's page: the owner types it to confirm THEIR request, not a
    stranger's for the same thing (moves.pairing). Case, spaces and dashes do not matter; moves.services checks it."""

    pairing_code = forms.CharField(
        label="Pairing code from your new host",
        max_length=32,
        help_text="Your new host shows it on the move's page, like ABCD-EFGH.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters", "size": 12}
        ),
    )
