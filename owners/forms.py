from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from owners.models import Owner


class SignupForm(UserCreationForm):
    email = forms.EmailField(max_length=254, help_text="For password resets and messages from finders.")

    class Meta:
        model = Owner
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if Owner.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email exists. Log in or reset your password.")
        return email


class ContactCardForm(forms.ModelForm):
    class Meta:
        model = Owner
        fields = Owner.CONTACT_FIELDS
        labels = {
            **Owner.CONTACT_LABELS,
            **{name: "Show on public pages" for name in Owner.CONTACT_FIELDS if name.startswith("show_")},
        }
        widgets = {"contact_message": forms.Textarea(attrs={"rows": 3})}


class SelfHeldKeyForm(forms.Form):
    public_key = forms.CharField(max_length=64, label="Current public key (python -m ssi.sign pubkey KEYFILE)")
    next_key_hash = forms.CharField(max_length=64, label="Next key hash (python -m ssi.sign nexthash NEXT_KEYFILE)")
