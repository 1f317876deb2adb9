"""Forms of the organisation pages. The services (makers.orgs) check the rules again; these give the person the
message next to the field."""

from __future__ import annotations

from django import forms

from core.validators import storable_text_form
from makers.models import Membership, Organisation
from makers.orgs import SLUG_HELP


@storable_text_form
class ProfileForm(forms.ModelForm):
    """The public profile: what /orgs/<slug>/ shows."""

    class Meta:
        model = Organisation
        fields = ("name", "kind", "description", "website", "support_url")
        labels = {"support_url": "Support URL"}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


@storable_text_form
class OrganisationCreateForm(ProfileForm):
    slug = forms.CharField(
        label="Address",
        max_length=60,
        help_text=SLUG_HELP,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )

    class Meta(ProfileForm.Meta):
        fields = ("name", "slug", "kind", "description", "website", "support_url")

    def _post_clean(self) -> None:
        # The service validates the slug (format, reserved, taken) and the model together; nothing to do here.
        pass


@storable_text_form
class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)
    email = forms.EmailField(
        required=False, max_length=254, help_text="Optional: a note of whom the link is for (no mail is sent)."
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


@storable_text_form
class TokenForm(forms.Form):
    label = forms.CharField(max_length=80, required=False, help_text="What the token is for, e.g. production line 2.")


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand: the organisation's update key changes now, and the old one can no longer change its DID."
    )
