from __future__ import annotations

from typing import Any

from django import forms

from core.parsers import loads

MAX_DOCUMENT_BYTES = 64 * 1024  # a credential is one or two kilobytes; a presentation of a few, a few more


class VerifyForm(forms.Form):
    document = forms.CharField(
        label="Paste the credential or presentation (JSON)",
        required=False,
        max_length=MAX_DOCUMENT_BYTES,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )
    upload = forms.FileField(label="…or upload its file", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        text = data.get("document") or ""
        upload = data.get("upload")
        if upload is not None:
            if upload.size > MAX_DOCUMENT_BYTES:
                raise forms.ValidationError("That file is too large for a credential (64 KiB at most).")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError("That file is not text: upload the credential's .json file.") from None
        if not text.strip():
            raise forms.ValidationError("Paste a credential or a presentation, or upload its file.")
        try:
            data["parsed"] = loads(text)
        except ValueError:
            raise forms.ValidationError("That is not JSON: paste the whole credential, from { to }.") from None
        return data


class PresentForm(forms.Form):
    challenge = forms.CharField(max_length=200, help_text="The challenge the verifier showed you.")
    domain = forms.CharField(max_length=200, help_text="The domain the verifier showed you.")


class PolicyForm(forms.Form):
    name = forms.CharField(max_length=120)
    accepted_models = forms.CharField(
        label="Accepted models",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One model per line, exactly as on the thing (for example Baratza Encore).",
        max_length=5000,
    )

    def clean_accepted_models(self) -> list[str]:
        models = [line.strip() for line in self.cleaned_data["accepted_models"].splitlines() if line.strip()]
        if not models:
            raise forms.ValidationError("Name at least one model.")
        if len(models) > 100:
            raise forms.ValidationError("At most 100 models.")
        return models

    manufacturers = forms.CharField(
        label="Made by",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=(
            "Optional: the DIDs of the manufacturers you accept, one per line (an organisation's page shows its "
            "DID). Then the thing must carry its maker's authenticity credential, and the model is the maker's."
        ),
        max_length=3000,
    )

    def clean_manufacturers(self) -> list[str]:
        dids = [line.strip() for line in self.cleaned_data["manufacturers"].splitlines() if line.strip()]
        for did in dids:
            if not did.startswith("did:") or len(did) > 300 or any(c.isspace() for c in did):
                raise forms.ValidationError(f"{did[:60]!r} is not a DID (they start with did:webvh:…).")
        if len(dids) > 10:
            raise forms.ValidationError("At most 10 manufacturers.")
        return list(dict.fromkeys(dids))
