"""GET /api/things/<slug>/readings/series: min/avg/max per time bucket, computed by the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from twins.models import Reading

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def series_url(twin) -> str:
    return f"/api/things/{twin.slug}/readings/series"


@pytest.fixture
def hourly(grinder) -> list[Reading]:
    """24 hours of grinder readings, one per 10 minutes: value = hour*10 + (minute // 10), plus one other kind."""
    rows = [
        Reading(
            twin=grinder,
            kind="grind",
            unit="setting",
            value=hour * 10 + step,
            time=T0 + timedelta(hours=hour, minutes=10 * step),
        )
        for hour in range(24)
        for step in range(6)
    ]
    rows.append(Reading(twin=grinder, kind="beans", unit="g", value=1000, time=T0 + timedelta(minutes=5)))
    return Reading.objects.bulk_create(rows)


def get(api, twin, **params):
    return api.get(series_url(twin), {key.rstrip("_"): value for key, value in params.items()})


def test_each_bucket_has_min_avg_max_of_its_readings(alice_api, grinder, hourly):
    response = get(alice_api, grinder, from_="2026-01-01T00:00:00Z", to="2026-01-02T00:00:00Z", buckets=24)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["kind"], body["unit"], body["bucket_seconds"]) == ("grind", "setting", 3600.0)
    assert len(body["buckets"]) == 24
    for hour, bucket in enumerate(body["buckets"]):
        assert bucket["start"] == (T0 + timedelta(hours=hour)).isoformat().replace("+00:00", "Z")
        assert bucket["end"] == (T0 + timedelta(hours=hour + 1)).isoformat().replace("+00:00", "Z")
        assert bucket["count"] == 6
        assert bucket["min"] == hour * 10
        assert bucket["max"] == hour * 10 + 5
        assert bucket["avg"] == pytest.approx(hour * 10 + 2.5)


def test_empty_buckets_are_left_out_and_the_range_is_half_open(alice_api, grinder, hourly):
    # [01:00, 03:00) cut in 4: 01:00–01:30 holds 01:00, 01:10, 01:20; nothing from 03:00 on.
    response = get(alice_api, grinder, from_="2026-01-01T01:00:00Z", to="2026-01-01T03:00:00Z", buckets=4)
    buckets = response.json()["buckets"]
    assert [(b["count"], b["min"], b["max"]) for b in buckets] == [(3, 10, 12), (3, 13, 15), (3, 20, 22), (3, 23, 25)]
    late = get(alice_api, grinder, from_="2026-01-02T00:00:00Z", to="2026-01-03T00:00:00Z", buckets=10)
    assert late.json()["buckets"] == []


def test_bucket_count_never_exceeds_the_request(alice_api, grinder, hourly):
    for buckets in (1, 7, 143, 2000):
        response = get(alice_api, grinder, from_="2026-01-01T00:00:00Z", to="2026-01-02T00:00:00Z", buckets=buckets)
        body = response.json()["buckets"]
        assert 1 <= len(body) <= buckets
        assert sum(b["count"] for b in body) == 144
    whole = get(alice_api, grinder, from_="2026-01-01T00:00:00Z", to="2026-01-02T00:00:00Z", buckets=1).json()
    assert whole["buckets"][0]["min"] == 0 and whole["buckets"][0]["max"] == 235


def test_a_reading_just_before_the_end_lands_in_the_last_bucket(alice_api, grinder):
    Reading.objects.create(twin=grinder, kind="grind", value=1, time=T0 + timedelta(seconds=3600, microseconds=-1))
    body = get(alice_api, grinder, from_="2026-01-01T00:00:00Z", to="2026-01-01T01:00:00Z", buckets=3).json()
    assert [(b["count"], b["start"]) for b in body["buckets"]] == [(1, "2026-01-01T00:40:00Z")]


def test_kind_selects_another_series(alice_api, grinder, hourly):
    body = get(alice_api, grinder, kind="beans", from_="2026-01-01T00:00:00Z", to="2026-01-02T00:00:00Z").json()
    assert body["kind"] == "beans" and body["unit"] == ""
    assert [(b["count"], b["avg"]) for b in body["buckets"]] == [(1, 1000.0)]


def test_default_range_is_the_last_thirty_days(alice_api, grinder):
    from django.utils import timezone

    Reading.objects.create(twin=grinder, kind="grind", value=4, time=timezone.now() - timedelta(days=2))
    Reading.objects.create(twin=grinder, kind="grind", value=8, time=timezone.now() - timedelta(days=40))
    body = alice_api.get(series_url(grinder)).json()
    assert [b["avg"] for b in body["buckets"]] == [4.0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"buckets": 0}, "buckets"),
        ({"buckets": 2001}, "buckets"),
        ({"buckets": "many"}, "buckets"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"kind": "k" * 41}, "kind"),
    ],
)
def test_bad_parameters_are_400_in_the_one_error_shape(alice_api, grinder, params, field):
    response = alice_api.get(series_url(grinder), params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert body["message"].startswith(f"{field}:")
    assert field in body["extra"]["fields"]


def test_another_owners_thing_is_404(carol_api, grinder, hourly):
    response = carol_api.get(series_url(grinder), {"buckets": 10})
    assert response.status_code == 404
    assert response.json() == {"message": "Not found.", "extra": {}}


def test_anonymous_caller_is_refused(anon_api, grinder):
    assert anon_api.get(series_url(grinder)).status_code in (401, 403)
