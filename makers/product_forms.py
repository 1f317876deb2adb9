"""Forms of the product pages: a model, a document, a production batch, a claim."""

from __future__ import annotations

from django import forms

from makers import gs1
from makers.models import ProductDocument
from makers.production import MAX_SERIALS
from twins.models import ICONS


class ReadingKindsField(forms.CharField):
    """Reading kinds typed as "kind: unit" lines (the unit may be empty)."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "grams: g\ntemperature: °C"})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(f"{item.get('kind', '')}: {item.get('unit', '')}".rstrip(": ") for item in value)
        return value

    def to_python(self, value):
        kinds = []
        for line in (super().to_python(value) or "").splitlines():
            if line.strip():
                kind, _, unit = line.partition(":")
                kinds.append({"kind": kind.strip(), "unit": unit.strip()})
        return kinds


class LinksField(forms.CharField):
    """Links typed as "gs1:instructions https://…" lines."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "gs1:instructions https://example.com/manual"})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{key} {url}" for key, url in value.items())
        return value

    def to_python(self, value):
        links = {}
        for number, line in enumerate((super().to_python(value) or "").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise forms.ValidationError(
                    f'Line {number}: write a link type and a URL, like "gs1:support https://…".'
                )
            links[parts[0]] = parts[1]
        return links


class ProductModelForm(forms.Form):
    name = forms.CharField(max_length=120)
    gtin = forms.CharField(
        label="GTIN", max_length=14, help_text="8, 12, 13 or 14 digits, with the check digit (kept as GTIN-14)."
    )
    icon = forms.ChoiceField(choices=[(key, key.title()) for key in ICONS])  # words: emoji need an emoji font
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, required=False)
    reading_kinds = ReadingKindsField(required=False, help_text="One per line: kind: unit. The first is the main one.")
    links = LinksField(
        required=False,
        help_text="One per line: a GS1 link type and an https URL. Types: "
        + ", ".join(gs1.PREFIX + name for name in gs1.MAKER_LINK_TYPES),
    )


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(choices=ProductDocument.Kind.choices)
    title = forms.CharField(max_length=200, required=False)
    file = forms.FileField(help_text="A PDF, at most 10 MB.")


class ProductionForm(forms.Form):
    serials = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "SN0001\nSN0002"}),
        required=False,
        help_text="One serial number per line. Or give a prefix and a range below.",
    )
    prefix = forms.CharField(max_length=20, required=False)
    start = forms.IntegerField(min_value=0, required=False)
    end = forms.IntegerField(min_value=0, required=False)
    width = forms.IntegerField(min_value=0, max_value=20, required=False, help_text="Digits, zero-padded.")

    def serial_list(self) -> list[str]:
        """The serials asked for (raises ValidationError for an unusable range)."""
        from makers.production import ProductionRefused, serial_range

        data = self.cleaned_data
        lines = [line.strip() for line in (data.get("serials") or "").splitlines() if line.strip()]
        if lines:
            return lines
        if data.get("start") is None or data.get("end") is None:
            raise forms.ValidationError("Type serial numbers, one per line, or give a range (start and end).")
        if data["end"] - data["start"] + 1 > MAX_SERIALS:
            raise forms.ValidationError(f"At most {MAX_SERIALS:,} serial numbers in one batch.")
        try:
            return serial_range(
                prefix=data.get("prefix") or "", start=data["start"], end=data["end"], width=data.get("width") or 0
            )
        except ProductionRefused as exc:
            raise forms.ValidationError(exc.message) from None


class ClaimForm(forms.Form):
    code = forms.CharField(
        label="Claim code", max_length=40, help_text="On the card in the box, like ABCD-EFGH-JKLM-NPQR."
    )
