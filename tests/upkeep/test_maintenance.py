"""Maintenance schedules: "descale every 3 months". Done logs a journal entry through twins' journal and moves the
next due date; the same day twice records once; a keeper who may write the journal marks it done but cannot add,
change or delete schedules; a stranger gets 404 and changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.conftest import api_for, client_for
from tests.upkeep.conftest import make_keeper
from twins import access
from twins.models import HistoryEntry, JournalNote
from upkeep import maintenance
from upkeep.models import Schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def descale(grinder) -> Schedule:
    today = timezone.localdate()
    return maintenance.schedule_create(
        twin=grinder, name="Descale", every=3, unit="months", last_done=today - timedelta(days=100)
    )


@pytest.mark.parametrize(
    ("day", "every", "unit", "expected"),
    [
        (date(2026, 1, 31), 1, "months", date(2026, 2, 28)),
        (date(2028, 1, 31), 1, "months", date(2028, 2, 29)),
        (date(2026, 11, 15), 3, "months", date(2027, 2, 15)),
        (date(2026, 12, 1), 2, "weeks", date(2026, 12, 15)),
        (date(2028, 2, 29), 1, "years", date(2029, 2, 28)),
        (date(2026, 12, 30), 5, "days", date(2027, 1, 4)),
    ],
)
def test_the_next_due_date_is_one_interval_on_and_keeps_the_day_of_month_where_it_can(day, every, unit, expected):
    assert maintenance.add_interval(day, every, unit) == expected


def test_owner_adds_a_schedule_on_the_maintenance_page_and_sees_it_on_the_thing_page(alice_client, grinder):
    response = alice_client.post(
        f"/things/{grinder.slug}/maintenance/",
        {"name": "Descale", "every": "3", "unit": "months", "last_done": "2026-10-01"},
    )
    assert response.status_code == 302
    schedule = Schedule.objects.get(twin=grinder)
    assert schedule.next_due == date(2027, 1, 1) and schedule.interval_text == "every 3 months"
    page = alice_client.get(f"/things/{grinder.slug}/").content.decode()
    assert 'data-testid="upkeep-maintenance"' in page and "Descale" in page and "Next 2027-01-01" in page


def test_done_logs_a_journal_entry_and_moves_the_next_due_date(alice_client, grinder, descale):
    today = timezone.localdate()
    response = alice_client.post(f"/things/{grinder.slug}/maintenance/{descale.pk}/done/", {"back": "thing"})
    assert response.status_code == 302 and response["Location"] == f"/things/{grinder.slug}/"
    descale.refresh_from_db()
    assert descale.last_done == today
    assert descale.next_due == maintenance.add_interval(today, 3, "months")
    note = JournalNote.objects.get(twin=grinder)
    assert note.title == "Descale: done" and "every 3 months" in note.text
    # Through twins' journal service: the signed history has the entry too.
    assert HistoryEntry.objects.filter(twin=grinder, kind=HistoryEntry.Kind.NOTE, ref_id=note.pk).exists()


def test_done_twice_on_the_same_day_records_it_once(alice, grinder, descale):
    api = api_for(alice)
    first = api.post(f"/api/things/{grinder.slug}/maintenance/{descale.pk}/done", {}, format="json")
    second = api.post(f"/api/things/{grinder.slug}/maintenance/{descale.pk}/done", {}, format="json")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert JournalNote.objects.filter(twin=grinder).count() == 1


@pytest.mark.parametrize(
    ("on", "words"),
    [((1, "in the future")), ((-200, "last done on"))],
)
def test_done_on_a_future_day_or_before_the_last_time_is_a_400_and_writes_nothing(alice, grinder, descale, on, words):
    day = (timezone.localdate() + timedelta(days=on)).isoformat()
    response = api_for(alice).post(
        f"/api/things/{grinder.slug}/maintenance/{descale.pk}/done", {"on": day}, format="json"
    )
    assert response.status_code == 400 and words in response.json()["message"]
    before = descale.next_due
    descale.refresh_from_db()
    assert descale.next_due == before and not JournalNote.objects.filter(twin=grinder).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "every": 3}, "name"),
        ({"name": "Descale", "every": 0}, "every"),
        ({"name": "Descale", "every": 3, "unit": "fortnights"}, "unit"),
        ({"name": "Descale", "every": 3, "last_done": "2026-01-10", "next_due": "2026-01-01"}, "next_due"),
        ({"name": "Descale", "every": "three"}, "every"),
    ],
)
def test_bad_schedule_input_is_a_400_naming_the_field(alice, grinder, body, field):
    response = api_for(alice).post(f"/api/things/{grinder.slug}/maintenance/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Schedule.objects.exists()


def test_api_creates_changes_lists_and_deletes_a_schedule(alice, grinder):
    api = api_for(alice)
    created = api.post(
        f"/api/things/{grinder.slug}/maintenance/",
        {"name": "Filter", "every": 2, "unit": "weeks", "last_done": "2026-11-01"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["next_due"] == "2026-11-15"
    schedule_id = created.json()["id"]
    changed = api.patch(
        f"/api/things/{grinder.slug}/maintenance/{schedule_id}/", {"every": 1, "next_due": "2026-11-08"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["every"] == 1 and changed.json()["next_due"] == "2026-11-08"
    assert [item["id"] for item in api.get(f"/api/things/{grinder.slug}/maintenance/").json()] == [schedule_id]
    assert api.delete(f"/api/things/{grinder.slug}/maintenance/{schedule_id}/").status_code == 204
    assert not Schedule.objects.exists()


def test_a_keeper_marks_maintenance_done_but_cannot_add_or_delete_schedules(grinder, descale, bob):
    make_keeper(grinder, bob)
    keeper = client_for(bob)
    page = keeper.get(f"/things/{grinder.slug}/maintenance/")
    assert page.status_code == 200 and "Descale" in page.content.decode()
    assert "Add a schedule" not in page.content.decode()
    assert keeper.post(f"/things/{grinder.slug}/maintenance/{descale.pk}/done/").status_code == 302
    # The journal entry names the keeper who did it, not the owner.
    assert JournalNote.objects.get(twin=grinder, title="Descale: done").added_by == bob

    assert keeper.post(f"/things/{grinder.slug}/maintenance/", {"name": "X", "every": "1"}).status_code == 404
    assert keeper.post(f"/things/{grinder.slug}/maintenance/{descale.pk}/delete/").status_code == 404
    bob_api = api_for(bob)
    assert bob_api.post(f"/api/things/{grinder.slug}/maintenance/", {"name": "X", "every": 1}).status_code == 404
    assert bob_api.patch(f"/api/things/{grinder.slug}/maintenance/{descale.pk}/", {"every": 9}).status_code == 404
    assert bob_api.delete(f"/api/things/{grinder.slug}/maintenance/{descale.pk}/").status_code == 404
    assert list(Schedule.objects.values_list("name", "every")) == [("Descale", 3)]


def test_a_keeper_who_may_only_look_sees_the_schedules_but_cannot_mark_them_done(grinder, descale, bob):
    make_keeper(grinder, bob, capabilities=[access.VIEW])
    keeper = client_for(bob)
    page = keeper.get(f"/things/{grinder.slug}/maintenance/").content.decode()
    assert "Descale" in page and "Done today" not in page
    assert keeper.post(f"/things/{grinder.slug}/maintenance/{descale.pk}/done/").status_code == 404
    assert api_for(bob).post(f"/api/things/{grinder.slug}/maintenance/{descale.pk}/done").status_code == 404
    descale.refresh_from_db()
    assert descale.last_done != timezone.localdate()


def test_a_stranger_gets_404_and_changes_nothing(grinder, descale, carol):
    stranger = client_for(carol)
    assert stranger.get(f"/things/{grinder.slug}/maintenance/").status_code == 404
    assert stranger.post(f"/things/{grinder.slug}/maintenance/{descale.pk}/done/").status_code == 404
    assert api_for(carol).get(f"/api/things/{grinder.slug}/maintenance/").status_code == 404
    assert not JournalNote.objects.exists()


def test_a_schedule_of_another_thing_is_a_404_under_this_things_url(alice, alice_client, descale):
    from twins import services as twin_services

    other = twin_services.twin_create(owner=alice, name="Kettle")
    assert alice_client.post(f"/things/{other.slug}/maintenance/{descale.pk}/done/").status_code == 404
    assert not JournalNote.objects.exists()


def test_done_on_a_deactivated_thing_is_refused_and_the_schedule_does_not_move(alice, grinder, descale):
    """The journal entry and the schedule commit together: when twins refuses the entry (the thing's identity
    has ended), the next due date stays where it was."""
    from twins import services as twin_services

    twin_services.twin_deactivate(twin=grinder)
    before = (descale.last_done, descale.next_due)
    response = api_for(alice).post(f"/api/things/{grinder.slug}/maintenance/{descale.pk}/done", {}, format="json")
    assert response.status_code == 409 and response.json()["message"]
    descale.refresh_from_db()
    assert (descale.last_done, descale.next_due) == before
    assert not JournalNote.objects.filter(twin=grinder).exists()


def test_the_page_form_refuses_a_bad_interval_with_words_and_adds_nothing(alice_client, grinder):
    response = alice_client.post(f"/things/{grinder.slug}/maintenance/", {"name": "Descale", "every": "0"})
    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    assert not Schedule.objects.exists()
