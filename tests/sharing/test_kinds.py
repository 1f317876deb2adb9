"""Which data kind a reading is: a position is never inside "Readings (all kinds)", whatever a device calls it
(review finding 6: geo_lat, gnss, latlng… were shared as readings)."""

from __future__ import annotations

import pytest

from sharing import grants
from sharing import kinds as data_kinds
from sharing.models import OutboxItem
from twins import services as twin_services

POSITIONS = [
    "geo",
    "geo_lat",
    "geolocation",
    "gnss",
    "coordinates",
    "latlng",
    "lat_lon",
    "lat-lon",
    "geo.lat",
    "home_latitude",
    "homeLatitude",
    "GPSFix",
    "gps2",
    "pos",
    "position_x",
    "heading",
    "location",
    "altitude",
]
NOT_POSITIONS = ["temperature", "humidity", "motor_speed", "pressure", "salon_temp", "compost_temp", "co2"]


@pytest.mark.parametrize("kind", POSITIONS)
def test_a_kind_with_a_location_word_is_location(kind):
    assert data_kinds.reading_data_kind(kind) == data_kinds.LOCATION


@pytest.mark.parametrize("kind", NOT_POSITIONS)
def test_a_kind_without_one_stays_in_readings(kind):
    assert data_kinds.reading_data_kind(kind) == data_kinds.READINGS


def test_diagnostics_and_usage_keep_their_rules():
    assert data_kinds.reading_data_kind("diag_error_code") == data_kinds.DIAGNOSTICS
    assert data_kinds.reading_data_kind("battery") == data_kinds.DIAGNOSTICS
    assert data_kinds.reading_data_kind("brew_count") == data_kinds.USAGE


def test_kinds_are_split_into_words_at_separators_digits_and_camel_case():
    assert data_kinds.kind_words("homeLatitude_2") == ["home", "latitude", "2"]
    assert data_kinds.kind_words("GPSFix.lat-lon") == ["gps", "fix", "lat", "lon"]


def test_reading_kinds_are_listed_under_the_data_kind_each_falls_in():
    listed = data_kinds.by_data_kind(["temperature", "geo_lat", "battery", "humidity", "geo_lat"])
    assert listed == [
        ("Readings (all kinds)", ["humidity", "temperature"]),
        ("Location", ["geo_lat"]),
        ("Diagnostics", ["battery"]),
    ]


@pytest.mark.django_db
def test_a_geo_lat_reading_under_a_readings_grant_is_not_in_the_outbox(alice, grinder, connection, endpoint):
    grants.grant_create(twin=grinder, party=connection, kinds=["readings"], by=alice)
    grants.grant_create(twin=grinder, party=endpoint, kinds=["location"], by=alice)
    for kind in ("temperature", "geo_lat", "gnss", "latlng"):
        twin_services.reading_add(twin=grinder, value=1, kind=kind)
    by_grant = {
        (row.grant.connection_id is not None, row.kind): [i["kind"] for i in row.payload["items"]]
        for row in OutboxItem.objects.select_related("grant")
    }
    assert by_grant == {(True, "readings"): ["temperature"], (False, "location"): ["geo_lat", "gnss", "latlng"]}


@pytest.mark.django_db
def test_a_position_kind_the_owner_names_is_shared(alice, grinder, connection):
    grants.grant_create(twin=grinder, party=connection, kinds=["readings:geo_lat"], by=alice)
    twin_services.reading_add(twin=grinder, value=1, kind="geo_lat")
    assert OutboxItem.objects.get().payload["items"][0]["kind"] == "geo_lat"


@pytest.mark.django_db
def test_the_grant_form_lists_the_things_reading_kinds_under_what_shares_them(alice_client, grinder):
    for kind in ("temperature", "geo_lat", "temperature", "battery"):
        twin_services.reading_add(twin=grinder, value=1, kind=kind)
    page = alice_client.get(f"/things/{grinder.slug}/sharing/").content.decode()
    listed = page.split('data-testid="kinds-listed"', 1)[1].split("</p>", 1)[0]
    readings = ", ".join(sorted({"temperature", grinder.reading_kind}))
    assert f"<strong>Readings (all kinds)</strong>: {readings}" in listed
    assert "<strong>Location</strong>: geo_lat" in listed
    assert "<strong>Diagnostics</strong>: battery" in listed


@pytest.mark.django_db
def test_the_things_reading_kinds_are_found_one_probe_each(grinder, django_assert_num_queries):
    for n in range(3):
        for kind in ("a", "b", "c"):
            twin_services.reading_add(twin=grinder, value=n, kind=kind)
    with django_assert_num_queries(1):
        listed = data_kinds.thing_kinds_listed(twin=grinder)
    assert [kind for _, names in listed for kind in names] == sorted({"a", "b", "c", grinder.reading_kind})
