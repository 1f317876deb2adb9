from __future__ import annotations

from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV or JSON file",
        help_text=(
            "Columns: name, model, serial, external id, group, tag code; any other column becomes an attribute. "
            "Nothing is imported until you have seen the dry run and confirmed it."
        ),
    )
