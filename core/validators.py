"""Text every database stores: the one rule for every text input (API fields, HTML forms, twins' attributes).

Two kinds of character pass Python's `str` and fail at the database, as a 500 instead of a 400:

- NUL (U+0000): PostgreSQL's `text` and `jsonb` cannot hold it ("unsupported Unicode escape sequence", a
  `DataError`); SQLite stores it, so without this rule the same input would mean different things per database.
- A lone UTF-16 surrogate (U+D800 to U+DFFF), which JSON can carry as an escape (`"\\ud800"`): it has no UTF-8 form,
  so the driver fails to encode it (psycopg and sqlite3 alike), and PostgreSQL's `jsonb` refuses the escape.

DRF's CharField and Django's form CharField already refuse NUL (and DRF surrogates) in a plain text field; what
they do not see is text inside structured values (a JSON object's keys and values) and a form field whose
`to_python` builds something other than a string. Those call :func:`validate_storable_text` themselves.
"""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

MESSAGE = "Text may not contain a NUL character or a lone surrogate (U+D800–U+DFFF)."


def is_storable_text(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


@deconstructible
class StorableTextValidator:
    """A field validator (Django forms, models, DRF serializers alike): a ValidationError for a string that holds
    a character no database column stores; other values pass (their own field type checks them)."""

    message = MESSAGE
    code = "unstorable_text"

    def __call__(self, value: object) -> None:
        if isinstance(value, str) and not is_storable_text(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorableTextValidator)

    def __hash__(self) -> int:
        return hash(StorableTextValidator)


validate_storable_text = StorableTextValidator()


def storable_text_form[FormT: type[forms.BaseForm]](form_class: FormT) -> FormT:
    """Class decorator: every text field of the form (declared or built from a model) gets
    :data:`validate_storable_text`. A field that turns text into something else (a dict of attributes) validates
    the parts itself."""
    for field in form_class.base_fields.values():
        if isinstance(field, forms.CharField) and validate_storable_text not in field.validators:
            field.validators.append(validate_storable_text)
    return form_class


# The largest id a bigint primary key holds: an id given as input past it is refused (SQLite raised OverflowError,
# a 500, where PostgreSQL refuses the value): core.drf.IdField and core.forms.IdsChoiceField.
ID_MAX = 2**63 - 1
