"""/api/things/<slug>/journal/: the thing's journal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twins import services as twin_services
from twins.models import JournalNote


@pytest.fixture
def note(grinder) -> JournalNote:
    return twin_services.note_create(twin=grinder, title="Descaled", text="Citric acid")


def test_owner_adds_and_lists_notes_newest_first(alice_api, grinder, note):
    url = f"/api/things/{grinder.slug}/journal/"
    response = alice_api.post(url, {"title": "Bought", "time": "2020-05-01T10:00:00Z"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["time"] == "2020-05-01T10:00:00Z"
    titles = [item["title"] for item in alice_api.get(url).json()["results"]]
    assert titles == ["Descaled", "Bought"]


def test_owner_reads_changes_and_deletes_a_note(alice_api, grinder, note):
    url = f"/api/things/{grinder.slug}/journal/{note.pk}/"
    assert alice_api.get(url).json()["title"] == "Descaled"
    response = alice_api.patch(url, {"text": "Vinegar", "time": "2021-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 200, response.json()
    note.refresh_from_db()
    assert (note.title, note.text, note.time) == ("Descaled", "Vinegar", datetime(2021, 1, 1, tzinfo=UTC))
    assert alice_api.delete(url).status_code == 204
    assert not JournalNote.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "t" * 201}, "title"),
        ({"title": "ok", "text": "x" * 10001}, "text"),
        ({"title": 5}, "title"),
        ({"title": "ok", "time": "2026-01-31 08:00"}, "time"),
        ({"title": "ok", "mood": "happy"}, "mood"),
        ({"title": "   "}, "title"),
    ],
)
def test_bad_notes_are_a_400_naming_the_field(alice_api, grinder, payload, field):
    response = alice_api.post(f"/api/things/{grinder.slug}/journal/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}:")
    assert not JournalNote.objects.exists()


def test_a_refused_change_leaves_the_note_as_it_was(alice_api, grinder, note):
    response = alice_api.patch(
        f"/api/things/{grinder.slug}/journal/{note.pk}/", {"title": "x" * 201, "text": "new"}, format="json"
    )
    assert response.status_code == 400
    note.refresh_from_db()
    assert (note.title, note.text) == ("Descaled", "Citric acid")


def test_a_note_of_another_thing_is_not_found_under_this_one(alice_api, alice, grinder, note):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    assert alice_api.get(f"/api/things/{kettle.slug}/journal/{note.pk}/").status_code == 404
    assert alice_api.get(f"/api/things/{grinder.slug}/journal/999999/").status_code == 404


def test_stranger_cannot_read_change_or_delete_a_note(carol_api, grinder, note):
    url = f"/api/things/{grinder.slug}/journal/{note.pk}/"
    assert carol_api.get(url).status_code == 404
    assert carol_api.patch(url, {"title": "x"}, format="json").status_code == 404
    assert carol_api.delete(url).status_code == 404
    note.refresh_from_db()
    assert note.title == "Descaled"
