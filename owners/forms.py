from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from owners.models import Owner
from owners.time_zones import zone_choices


def _time_zone_field(*, from_browser: bool = False) -> forms.ChoiceField:
    # A select (no typing a zone's name on a phone), its choices the zones this machine knows; the form refuses
    # anything else with a message, never a 500.
    return forms.ChoiceField(
        choices=zone_choices,
        required=False,
        label="Time zone",
        help_text="Dates on your pages and in emails are shown in it. Automatic follows the browser you use.",
        # static/js/tz.js fills a select marked so with the browser's zone while it is still "Automatic".
        widget=forms.Select(attrs={"data-browser-zone": ""} if from_browser else {}),
    )


class SignupForm(UserCreationForm):
    email = forms.EmailField(max_length=254, help_text="For password resets and messages from finders.")
    time_zone = _time_zone_field(
        from_browser=True
    )  # pre-filled from the browser (the tz cookie; static/js/tz.js on this page)

    class Meta:
        model = Owner
        fields = ("username", "email", "time_zone")

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


class TimeZoneForm(forms.Form):
    time_zone = _time_zone_field()


class SelfHeldKeyForm(forms.Form):
    public_key = forms.CharField(max_length=64, label="Current public key (python -m ssi.sign pubkey KEYFILE)")
    next_key_hash = forms.CharField(max_length=64, label="Next key hash (python -m ssi.sign nexthash NEXT_KEYFILE)")
