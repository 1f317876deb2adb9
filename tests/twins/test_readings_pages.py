"""All of a thing's readings: a paged table and a CSV export, with the same access check as the private page
(issue 14, finding 9: only the latest 20 were shown, with no paging and no export)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.conftest import client_for
from twins.models import Reading

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def readings(grinder):
    Reading.objects.bulk_create(
        [
            Reading(twin=grinder, kind="grind", value=10 + i / 2, unit="setting", time=START + timedelta(hours=i))
            for i in range(120)
        ]
    )
    return grinder


def test_the_thing_page_links_to_every_reading_and_the_csv(alice_client, readings):
    page = alice_client.get(reverse("thing", args=[readings.slug])).content.decode()
    assert reverse("readings", args=[readings.slug]) in page
    assert reverse("readings-csv", args=[readings.slug]) in page


def test_readings_are_paged_newest_first(alice_client, readings):
    first = alice_client.get(reverse("readings", args=[readings.slug])).content.decode()
    assert first.count("<tr data-time=") == 50
    assert "69.5 setting" in first and "2026-03-06 07:00" in first  # the newest (i = 119)
    assert "Page 1 of 3" in first
    last = alice_client.get(reverse("readings", args=[readings.slug]) + "?page=3").content.decode()
    assert last.count("<tr data-time=") == 20
    assert "10 setting" in last and "2026-03-01 08:00" in last  # the oldest


def test_csv_export_has_every_reading(alice_client, readings, settings):
    response = alice_client.get(reverse("readings-csv", args=[readings.slug]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["time_utc", "time_local", "time_zone", "kind", "value", "unit", "device_signed"]
    assert len(rows) == 121
    assert rows[1][:2] == ["2026-03-06T07:00:00Z", "2026-03-06 07:00:00"]
    assert rows[1][3:6] == ["grind", "69.5", "setting"]
    assert rows[-1][0] == "2026-03-01T08:00:00Z"


def test_a_stranger_gets_404_for_the_readings_and_their_csv(carol, readings):
    stranger = client_for(carol)
    assert stranger.get(reverse("readings", args=[readings.slug])).status_code == 404
    response = stranger.get(reverse("readings-csv", args=[readings.slug]))
    assert response.status_code == 404
    assert b"69.5" not in response.content


def test_signed_out_visitors_are_sent_to_log_in(anon_client, readings):
    response = anon_client.get(reverse("readings-csv", args=[readings.slug]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_times_are_in_the_viewers_time_zone_everywhere(alice_client, readings):
    """The browser's zone (the `tz` cookie static/js/tz.js sets): the table, the page's live rows and chart
    (data-time-zone) and the CSV's local column agree; 07:00 UTC on 6 March is 08:00 in Berlin."""
    alice_client.cookies["tz"] = "Europe/Berlin"
    page = alice_client.get(reverse("readings", args=[readings.slug])).content.decode()
    assert "2026-03-06 08:00" in page and "Times in Europe/Berlin" in page
    thing = alice_client.get(reverse("thing", args=[readings.slug])).content.decode()
    assert 'data-time-zone="Europe/Berlin"' in thing and "2026-03-06 08:00" in thing
    response = alice_client.get(reverse("readings-csv", args=[readings.slug]))
    newest = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1]
    assert newest[:3] == ["2026-03-06T07:00:00Z", "2026-03-06 08:00:00", "Europe/Berlin"]


@pytest.mark.parametrize("cookie", ["Mars/Olympus_Mons", "../../etc/passwd", "x" * 300, ""])
def test_a_bad_time_zone_cookie_falls_back_to_utc(alice_client, readings, cookie):
    alice_client.cookies["tz"] = cookie
    response = alice_client.get(reverse("readings", args=[readings.slug]))
    assert response.status_code == 200
    assert "2026-03-06 07:00" in response.content.decode() and "Times in UTC" in response.content.decode()
