"""HTML forms of groups, and the bulk actions' parameter form. The services validate again (names, nesting,
owners): forms only parse. Choices are ids as strings, so a bulk job can store cleaned_data as JSON."""

from __future__ import annotations

from django import forms

from fleets.selectors import group_choices, group_list
from fleets.services import DESCRIPTION_MAX, NAME_MAX


def parent_choices(owner, *, exclude: int | None = None) -> list[tuple[str, str]]:
    """The owner's top-level groups (a group can only go inside one of those), minus `exclude`."""
    return [
        (str(group.pk), group.name)
        for group in group_list(viewer=owner).filter(parent__isnull=True)
        if group.pk != exclude
    ]


class GroupForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX, help_text="A herd, a site, a room, a van's kit…")
    parent = forms.ChoiceField(label="Inside", required=False, help_text="Groups nest one level: a site and its rooms.")
    description = forms.CharField(max_length=DESCRIPTION_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, owner, exclude: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", "Nothing (top level)"), *parent_choices(owner, exclude=exclude)]


class GroupPickForm(forms.Form):
    """The bulk actions' parameter: one of the owner's groups, by id (a ChoiceField: cleaned_data stays JSON)."""

    group = forms.ChoiceField(label="Group")

    def __init__(self, data=None, *, owner, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.fields["group"].choices = group_choices(owner)
        self.fields["group"].error_messages["invalid_choice"] = "No such group among yours: pick one from the list."
