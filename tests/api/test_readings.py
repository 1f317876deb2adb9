"""/api/things/<slug>/readings/: log and list readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from twins import services as twin_services
from twins.models import Reading


@pytest.fixture
def url(grinder) -> str:
    return f"/api/things/{grinder.slug}/readings/"


def test_a_bare_value_is_logged_as_the_things_own_kind_and_unit_now(alice_api, grinder, url):
    response = alice_api.post(url, {"value": 12}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["value"], body["unit"], body["source"]) == ("grind", 12.0, "setting", "api")
    assert abs(datetime.fromisoformat(body["time"]) - timezone.now()) < timedelta(seconds=10)
    grinder.refresh_from_db()
    assert grinder.latest_value == 12.0


def test_kind_unit_time_and_note_can_be_given(alice_api, grinder, url):
    response = alice_api.post(
        url,
        {"value": "5.4", "kind": "weight", "unit": "kg", "time": "2026-01-31T08:00:00+01:00", "note": "beans"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    reading = Reading.objects.get()
    assert (reading.kind, reading.value, reading.unit, reading.note) == ("weight", 5.4, "kg", "beans")
    assert reading.time == datetime(2026, 1, 31, 7, 0, tzinfo=UTC)
    grinder.refresh_from_db()
    assert grinder.latest_value is None, "another kind does not move the thing's latest reading"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"value": "abc"}, "value"),
        ({"value": True}, "value"),
        ({"value": None}, "value"),
        ({}, "value"),
        ({"value": 1, "time": "2026-01-31T08:00:00"}, "time"),
        ({"value": 1, "time": "yesterday"}, "time"),
        ({"value": 1, "kind": "k" * 41}, "kind"),
        ({"value": 1, "note": "n" * 201}, "note"),
        ({"value": 1, "colour": "red"}, "colour"),
    ],
)
def test_bad_readings_are_a_400_naming_the_field_and_store_nothing(alice_api, url, payload, field):
    response = alice_api.post(url, payload, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}:")
    assert not Reading.objects.exists()


def test_a_naive_time_is_refused_with_a_hint(alice_api, url):
    response = alice_api.post(url, {"value": 1, "time": "2026-01-31T08:00:00"}, format="json")
    assert response.json()["message"] == "time: Give the time with a time zone, like 2026-01-31T08:00:00Z."


def test_a_reading_from_the_future_is_refused(alice_api, url):
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    response = alice_api.post(url, {"value": 1, "time": future}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "time: The time is in the future."


def test_readings_are_listed_newest_first_and_filter_by_kind_and_time(alice_api, grinder, url):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(5):
        twin_services.reading_add(twin=grinder, value=day, time=base + timedelta(days=day))
    twin_services.reading_add(twin=grinder, value=99, kind="weight", time=base)

    def values(params):
        response = alice_api.get(url, params)
        assert response.status_code == 200, response.json()
        return [item["value"] for item in response.json()["results"]]

    # Same time: the later-stored reading comes first (ORDER BY time DESC, id DESC).
    assert values({}) == [4, 3, 2, 1, 99, 0]
    assert values({"kind": "weight"}) == [99]
    assert values({"kind": "grind", "since": "2026-01-02T00:00:00Z", "until": "2026-01-04T00:00:00Z"}) == [2, 1]
    assert values({"limit": 2, "offset": 1}) == [3, 2]


def test_a_bad_since_is_a_400(alice_api, url):
    response = alice_api.get(url, {"since": "2026-01-02"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("since:")


def test_stranger_can_neither_read_nor_log(carol_api, grinder, url):
    assert carol_api.get(url).status_code == 404
    response = carol_api.post(url, {"value": "abc"}, format="json")
    assert response.status_code == 404, "the 404 comes before validation: nothing is learnt from a 400"
    assert not Reading.objects.exists()
