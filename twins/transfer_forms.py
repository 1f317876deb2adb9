from __future__ import annotations

from django import forms

from core.parsers import loads
from twins.models import HistoryEntry

REDACT_CHOICES = [
    (HistoryEntry.Kind.READING, "Readings"),
    (HistoryEntry.Kind.NOTE, "Journal notes"),
    (HistoryEntry.Kind.SCAN, "Scans of its tags (when and where it was scanned)"),
    (HistoryEntry.Kind.TAG, "Tag changes"),
]
# The private choice is the default: what says where the seller lives and what they wrote goes, unless the seller
# unticks it to keep it for the buyer. Readings (what a buyer judges the thing by) stay unless ticked.
PRIVATE_BY_DEFAULT = [HistoryEntry.Kind.NOTE, HistoryEntry.Kind.SCAN]


class OfferForm(forms.Form):
    redact_kinds = forms.MultipleChoiceField(
        choices=REDACT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        initial=PRIVATE_BY_DEFAULT,
        label="Remove before the sale",
        help_text=(
            "Ticked entries are removed; untick what the buyer should keep. Removed entries keep their place and "
            "hash: the buyer sees that something was removed, not what."
        ),
    )
    days = forms.IntegerField(min_value=1, max_value=30, initial=7, label="Offer valid for (days)")


class JsonUploadField(forms.CharField):
    """JSON pasted into a text box (or a file's content): parsed here, so the service gets data, not text."""

    def to_python(self, value):
        text = (super().to_python(value) or "").strip()
        if not text:
            raise forms.ValidationError("Paste the signed JSON here.")
        try:
            return loads(text)  # never RecursionError: 200,000 characters hold 99,000 levels
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}") from None


class SignedJsonForm(forms.Form):
    signed = JsonUploadField(widget=forms.Textarea(attrs={"rows": 8}), max_length=200_000, label="Signed JSON")


class RevealKeyForm(forms.Form):
    next_public_key = forms.CharField(
        max_length=64, label="Your next key's public key (python -m ssi.sign pubkey NEXT_KEYFILE)"
    )
