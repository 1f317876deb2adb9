"""Text no database column can hold is refused with a 400, never a 500: a NUL character (PostgreSQL's text and
jsonb refuse it) and a lone UTF-16 surrogate (not encodable as UTF-8, so neither database driver can send it).

The API receives them as JSON escapes (`"\\u0000"`, `"\\ud800"`); an HTML form can carry a NUL (a lone
surrogate arrives as U+FFFD: Django decodes form bodies with replacement), and a twin's attributes, typed as
"name: value" lines, once went into a JSON column unchecked. Run on SQLite and in the PostgreSQL pass.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from core.validators import validate_storable_text
from twins.models import JournalNote, Twin
from twins.services import validate_attributes

NUL = "\x00"
SURROGATE = "\ud800"
BAD = [pytest.param(NUL, id="nul"), pytest.param(SURROGATE, id="lone-surrogate")]


def post_json(client, url: str, data: dict, *, method: str = "post"):
    # ensure_ascii: a lone surrogate travels as the escape "\ud800", as any JSON sender would write it.
    body = json.dumps(data, ensure_ascii=True)
    return getattr(client, method)(url, data=body, content_type="application/json")


@pytest.mark.parametrize("bad", BAD)
def test_the_shared_validator_refuses_text_no_database_stores(bad):
    with pytest.raises(ValidationError):
        validate_storable_text(f"a{bad}b")
    validate_storable_text("plain text, accents é, emoji 🚲, tabs\tand\nnewlines")


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("where", ["key", "value"])
def test_validate_attributes_refuses_it_in_keys_and_values(bad, where):
    attributes = {f"colour{bad}": "red"} if where == "key" else {"colour": f"red{bad}"}
    with pytest.raises(ValidationError) as caught:
        validate_attributes(attributes)
    assert "attributes" in caught.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda bad: {"name": f"Bike{bad}"}, id="name"),
        pytest.param(lambda bad: {"name": "Bike", "description": f"d{bad}"}, id="description"),
        pytest.param(lambda bad: {"name": "Bike", "attributes": {"colour": f"red{bad}"}}, id="attribute-value"),
        pytest.param(lambda bad: {"name": "Bike", "attributes": {f"col{bad}our": "red"}}, id="attribute-key"),
    ],
)
def test_api_create_refuses_it_with_a_400(alice_api, bad, payload):
    response = post_json(alice_api, "/api/things/", payload(bad))
    assert response.status_code == 400, response.content
    assert Twin.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda bad: {"serial": f"SN{bad}"}, id="serial"),
        pytest.param(lambda bad: {"attributes": {"colour": f"red{bad}"}}, id="attribute-value"),
        pytest.param(lambda bad: {"attributes": {f"col{bad}our": "red"}}, id="attribute-key"),
    ],
)
def test_api_update_refuses_it_with_a_400_and_keeps_the_thing(alice_api, grinder, bad, payload):
    response = post_json(alice_api, f"/api/things/{grinder.slug}/", payload(bad), method="patch")
    assert response.status_code == 400, response.content
    grinder.refresh_from_db()
    assert (grinder.serial, grinder.attributes) == ("", {})


@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD)
def test_api_journal_note_refuses_it_with_a_400(alice_api, grinder, bad):
    response = post_json(alice_api, f"/api/things/{grinder.slug}/journal/", {"title": f"Descaled{bad}"})
    assert response.status_code == 400, response.content
    assert not JournalNote.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "attributes", [pytest.param(f"colour: red{NUL}", id="value"), pytest.param(f"col{NUL}our: red", id="key")]
)
def test_html_form_refuses_a_nul_in_attributes_with_a_400(alice_client, attributes):
    response = alice_client.post(
        "/things/new/", {"name": "Bike", "icon": "thing", "reading_kind": "r", "attributes": attributes}
    )
    assert response.status_code == 400
    assert Twin.objects.count() == 0


@pytest.mark.django_db
def test_html_edit_form_refuses_a_nul_in_attributes_and_keeps_the_thing(alice_client, grinder):
    response = alice_client.post(
        f"/things/{grinder.slug}/edit/",
        {"name": "Renamed", "icon": "coffee", "reading_kind": "grind", "attributes": f"colour: red{NUL}"},
    )
    assert response.status_code == 400
    grinder.refresh_from_db()
    assert (grinder.name, grinder.attributes) == ("Coffee grinder", {})


@pytest.mark.django_db
def test_html_forms_refuse_a_nul_in_plain_text_fields(alice_client, grinder):
    response = alice_client.post(f"/things/{grinder.slug}/journal/new/", {"title": f"Descaled{NUL}"})
    assert response.status_code == 400
    assert not JournalNote.objects.exists()


FORMS = {
    "twins": ("TwinForm", "NoteForm", "PublicSettingsForm", "LostForm", "ReadingForm"),
    "tags": ("MessageForm", "TagForm"),
    "ingest": ("SourceCreateForm", "SourceForm", "LinkForm"),
}


@pytest.mark.parametrize("app", [pytest.param(app, marks=pytest.mark.needs(app)) for app in FORMS])
def test_every_text_field_of_the_html_forms_carries_the_shared_validator(app):
    import importlib

    from django import forms

    module = importlib.import_module(f"{app}.forms")
    checked = 0
    for form_class in (getattr(module, name) for name in FORMS[app]):
        for name, field in form_class.base_fields.items():
            if isinstance(field, forms.CharField):
                assert validate_storable_text in field.validators, f"{form_class.__name__}.{name}"
                checked += 1
    assert checked
