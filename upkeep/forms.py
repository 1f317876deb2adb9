from __future__ import annotations

from django import forms

from upkeep.models import Attachment, Schedule


class DateInput(forms.DateInput):
    input_type = "date"


class PurchaseForm(forms.Form):
    purchased_on = forms.DateField(label="Bought on", required=False, widget=DateInput)
    price = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=2, widget=forms.NumberInput(attrs={"step": "0.01"})
    )
    currency = forms.CharField(
        required=False,
        max_length=40,  # the service checks the code and says what it wants
        help_text="Three-letter ISO 4217 code, like EUR, USD or GBP.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 4}),
    )
    bought_from = forms.CharField(label="Where bought", required=False, max_length=200)
    warranty_ends = forms.DateField(
        label="Warranty ends", required=False, widget=DateInput, help_text="You get a reminder 30 days before."
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(help_text="PDF, JPEG, PNG or WebP, up to 8 MB.")
    kind = forms.ChoiceField(choices=Attachment.Kind.choices, initial=Attachment.Kind.RECEIPT)
    title = forms.CharField(required=False, max_length=120)


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=120, help_text='Like "Descale".')
    every = forms.IntegerField(min_value=1, max_value=1000, initial=3)
    unit = forms.ChoiceField(choices=Schedule.Unit.choices, initial=Schedule.Unit.MONTHS)
    last_done = forms.DateField(label="Last done", required=False, widget=DateInput)


class DoneForm(forms.Form):
    on = forms.DateField(label="Done on", required=False, widget=DateInput)
    note = forms.CharField(required=False, max_length=2000)
