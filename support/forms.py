"""Forms of the support pages (each validates input only; the services decide)."""

from __future__ import annotations

from django import forms

from support import protocol
from support.services import ASKABLE


class OpenForm(forms.Form):
    connection = forms.TypedChoiceField(coerce=int, label="Ask", empty_value=None)
    subject = forms.CharField(max_length=protocol.MAX_SUBJECT, required=False)
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=protocol.MAX_TEXT, label="What is wrong?"
    )
    context = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Attach")
    photo = forms.ImageField(required=False, label="Add a photo")

    def __init__(self, *args, parties, items, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].choices = [(c.pk, c.their_label or "a connected agent") for c in parties]
        self.fields["context"].choices = [(i.key, f"{i.label}{f' ({i.detail})' if i.detail else ''}") for i in items]


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=protocol.MAX_TEXT, label="Reply")
    photo = forms.ImageField(required=False, label="Add a photo")


class ProvideForm(forms.Form):
    context = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Send")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=protocol.MAX_TEXT, required=False)
    answer = forms.ChoiceField(choices=[("provide", "Send"), ("decline", "Decline")])

    def __init__(self, *args, items, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["context"].choices = [(i.key, f"{i.label}{f' ({i.detail})' if i.detail else ''}") for i in items]


class AskForm(forms.Form):
    asks = forms.MultipleChoiceField(
        choices=list(ASKABLE.items()), widget=forms.CheckboxSelectMultiple, label="Ask for"
    )
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=protocol.MAX_TEXT, required=False)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(s, s) for s in protocol.STATUSES])
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=protocol.MAX_TEXT, required=False)


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)

    def __init__(self, *args, members, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [
            ("", "Nobody"),
            *[(m.owner_id, m.owner.get_full_name() or m.owner.username) for m in members],
        ]
