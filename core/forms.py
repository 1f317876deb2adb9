"""Form helpers shared by the apps' HTML views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from core.validators import ID_MAX


def apply_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: per field where it names one, else above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """A ModelMultipleChoiceField of rows chosen by id that refuses a posted value that is no id (not a whole number
    from 1 to the largest bigint) as "not one of the choices": Django's own passes it to the database, where SQLite
    raised OverflowError (a 500) for 99999999999999999999999."""

    def _check_values(self, value: Iterable[Any]) -> QuerySet:
        for item in value:
            text = str(item)
            if not text.isdigit() or not 1 <= int(text) <= ID_MAX:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": text[:40]}
                )
        return super()._check_values(value)
