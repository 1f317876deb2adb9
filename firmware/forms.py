"""Forms of the firmware pages (a release, co-signatures, the signing policy, a withdrawal, an owner's acceptance)."""

from __future__ import annotations

from typing import Any

from django import forms

from core.parsers import loads
from ssi import firmware as fw

MAX_MANIFEST_BYTES = 64 * 1024


def read_manifest(upload: Any) -> dict[str, Any]:
    """A small JSON manifest file, or a ValidationError saying what is wrong with it."""
    if upload.size > MAX_MANIFEST_BYTES:
        raise forms.ValidationError("A manifest is a small JSON file (64 KB at most).")
    try:
        data = loads(upload.read().decode("utf-8"))
    except ValueError:  # UnicodeDecodeError too; loads() raises no RecursionError
        raise forms.ValidationError(
            "The manifest is not JSON: upload the file python -m ssi.firmware printed."
        ) from None
    if not isinstance(data, dict):
        raise forms.ValidationError("A manifest is a JSON object.")
    return data


class ReleaseForm(forms.Form):
    payload = forms.FileField(help_text="The firmware image; it is hashed as it arrives.")
    version = forms.CharField(max_length=64, required=False, help_text="e.g. 1.4.0 (not needed with a manifest)")
    sequence = forms.IntegerField(
        min_value=1,
        max_value=fw.MAX_SAFE_INTEGER,
        required=False,
        help_text="Leave empty for the next one; it must exceed every earlier release's.",
    )
    manifest = forms.FileField(
        required=False, help_text="A manifest you signed offline (python -m ssi.firmware sign); else we sign it."
    )
    notes = forms.CharField(max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_manifest(self) -> dict[str, Any] | None:
        upload = self.cleaned_data.get("manifest")
        return read_manifest(upload) if upload else None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("manifest") and not (data.get("version") or "").strip() and "manifest" not in self.errors:
            self.add_error("version", "Give the version, or upload a signed manifest that names it.")
        return data


class CosignForm(forms.Form):
    sequence = forms.IntegerField(min_value=0)
    manifest = forms.FileField(help_text="The release's manifest with your signature added.")

    def clean_manifest(self) -> dict[str, Any]:
        return read_manifest(self.cleaned_data["manifest"])


class PolicyForm(forms.Form):
    critical = forms.BooleanField(required=False)
    reattest = forms.BooleanField(
        required=False,
        label="Re-sign releases after a key rotation",
        help_text="Serve releases signed by a rotated-out key re-signed by the current one. Leave off if a key"
        " was rotated out because it leaked.",
    )
    threshold = forms.IntegerField(min_value=0, max_value=20, required=False, initial=0)
    officers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Release officers' public keys (z6Mk…), one a line.",
    )

    def officer_list(self) -> list[str]:
        return [line.strip() for line in (self.cleaned_data.get("officers") or "").splitlines() if line.strip()]


class WithdrawForm(forms.Form):
    sequence = forms.IntegerField(min_value=0, max_value=fw.MAX_SAFE_INTEGER, widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        help_text="Owners of things that run this release are told it, in their inbox.",
    )


class AcceptForm(forms.Form):
    sequence = forms.IntegerField(min_value=0)
