"""The recall form of the organisation's pages (the API takes the same fields: makers.recall_apis)."""

from __future__ import annotations

from django import forms

from makers.models import ProductModel, Recall


class RecallForm(forms.Form):
    gtin = forms.ChoiceField(label="Product model")
    title = forms.CharField(max_length=200)
    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 5}), label="What owners must know")
    severity = forms.ChoiceField(choices=Recall.Severity.choices, initial=Recall.Severity.WARNING)
    link = forms.CharField(
        max_length=500, required=False, label="Link (https)", help_text="A page with the details (https:// only)."
    )
    serials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One serial per line (or separated by commas). Leave empty, with no range, for every unit.",
    )
    serial_from = forms.CharField(max_length=20, required=False, label="Range from")
    serial_to = forms.CharField(
        max_length=20,
        required=False,
        label="Range to",
        help_text="Inclusive. Two ends of digits compare as numbers; any other ends must have the same length "
        "and compare character by character.",
    )

    def __init__(self, *args, models: list[ProductModel], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["gtin"].choices = [(m.gtin, f"{m.name} ({m.gtin})") for m in models]

    def serial_list(self) -> list[str] | None:
        """The serials typed, or None when the box was left empty (all units, or the range)."""
        raw = self.cleaned_data.get("serials", "")
        parts = [part.strip() for part in raw.replace(",", "\n").splitlines()]
        parts = [part for part in parts if part]
        return parts or None
