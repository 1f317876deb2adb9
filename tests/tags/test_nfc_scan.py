"""Opening a tag URL from an NFC chip: the scan says so, and an NTAG 424 DNA SUN tap is genuine only once per
counter (SECURITY 15, 16, 17). Taps are generated with the keys provisioning stored (tags.sun.encode_tap, the chip's
side), so every test here runs the real verification against the real database row."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from tags import nfc, scan_buffer, sun
from tags.models import Scan, SunKeys
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

UID = bytes.fromhex("04A1B2C3D4E5F6")


@pytest.fixture
def chip(grinder_tag):
    """The tag, provisioned: its keys as the programming file gave them."""
    (provisioned,) = nfc.sun_provision(tags=[grinder_tag])
    return provisioned


def tap_url(chip, counter: int, *, uid: bytes = UID, **changes: str) -> str:
    params = sun.encode_tap(meta_key=chip.meta_read_key, file_key=chip.file_read_key, uid=uid, counter=counter)
    params.update(changes)
    return f"{chip.tag.get_absolute_url()}?{urlencode(params)}"


def genuine(response) -> bool:
    return 'data-testid="genuine-tag"' in response.content.decode()


def test_a_verified_tap_with_a_higher_counter_is_accepted_and_the_counter_stored(anon_client, chip):
    """SECURITY 15."""
    response = anon_client.get(tap_url(chip, 5))
    assert response.status_code == 200 and genuine(response)
    keys = SunKeys.objects.get(tag=chip.tag)
    assert keys.last_counter == 5 and keys.uid == UID.hex().upper() and keys.last_tap_at is not None
    response = anon_client.get(tap_url(chip, 9))
    assert genuine(response)
    assert SunKeys.objects.get(tag=chip.tag).last_counter == 9
    assert list(Scan.objects.filter(tag=chip.tag).values_list("source", flat=True)) == ["nfc-genuine"] * 2


def test_the_same_url_again_or_a_lower_counter_is_a_replay_shown_without_the_mark_and_logged(anon_client, chip, caplog):
    """SECURITY 16."""
    first = tap_url(chip, 10)
    assert genuine(anon_client.get(first))
    with caplog.at_level(logging.WARNING, logger="tags.nfc"):
        again = anon_client.get(first)
        lower = anon_client.get(tap_url(chip, 3))
        equal = anon_client.get(tap_url(chip, 10))
    for response in (again, lower, equal):
        assert response.status_code == 200 and not genuine(response)
        assert "Coffee grinder" in response.content.decode()  # an ordinary view of the public page
    replays = [r.getMessage() for r in caplog.records if "replay" in r.getMessage()]
    assert len(replays) == 3 and all(f"tag {chip.tag.pk} " in m for m in replays)
    assert chip.tag.token not in caplog.text and chip.meta_read_key.hex() not in caplog.text.lower()
    assert SunKeys.objects.get(tag=chip.tag).last_counter == 10
    assert list(Scan.objects.filter(tag=chip.tag).order_by("id").values_list("source", flat=True)) == [
        "nfc-genuine",
        "nfc",
        "nfc",
        "nfc",
    ]


@pytest.mark.parametrize("name", ["picc_data", "enc", "cmac"])
def test_a_url_with_one_flipped_hex_digit_is_rejected(anon_client, chip, name, caplog):
    """SECURITY 17, through the scan page: a flip anywhere in the parameter, and the counter is not spent."""
    params = sun.encode_tap(
        meta_key=chip.meta_read_key, file_key=chip.file_read_key, uid=UID, counter=20, file_data=b"0123456789ABCDEF"
    )
    for at in (0, len(params[name]) // 2, len(params[name]) - 1):
        digit = params[name][at]
        altered = {**params, name: params[name][:at] + ("1" if digit == "0" else "0") + params[name][at + 1 :]}
        with caplog.at_level(logging.WARNING, logger="tags.nfc"):
            response = anon_client.get(f"{chip.tag.get_absolute_url()}?{urlencode(altered)}")
        assert response.status_code == 200 and not genuine(response)
    assert "not genuine" in caplog.text
    assert SunKeys.objects.get(tag=chip.tag).last_counter == -1
    assert genuine(anon_client.get(f"{chip.tag.get_absolute_url()}?{urlencode(params)}"))  # the unaltered tap


def test_a_tap_from_another_chip_with_the_same_keys_is_not_genuine(anon_client, chip, caplog):
    assert genuine(anon_client.get(tap_url(chip, 1)))
    with caplog.at_level(logging.WARNING, logger="tags.nfc"):
        response = anon_client.get(tap_url(chip, 2, uid=bytes.fromhex("04000000000001")))
    assert not genuine(response) and "is not the chip" in caplog.text


def test_sun_parameters_on_a_tag_without_keys_are_an_ordinary_logged_view(anon_client, grinder_tag, caplog):
    keys = {"meta_key": sun.new_key(), "file_key": sun.new_key()}
    params = sun.encode_tap(**keys, uid=UID, counter=1)
    with caplog.at_level(logging.WARNING, logger="tags.nfc"):
        response = anon_client.get(f"{grinder_tag.get_absolute_url()}?{urlencode(params)}")
    assert response.status_code == 200 and not genuine(response)
    assert "no SUN keys" in caplog.text
    assert Scan.objects.get(tag=grinder_tag).source == "nfc"


def test_malformed_sun_parameters_are_an_ordinary_view_never_an_error(anon_client, chip, caplog):
    for query in ("picc_data=zz&cmac=1", "cmac=" + "0" * 16, "picc_data=" + "0" * 32 + "&cmac=" + "0" * 16, "enc=%ZZ"):
        with caplog.at_level(logging.WARNING, logger="tags.nfc"):
            response = anon_client.get(f"{chip.tag.get_absolute_url()}?{query}")
        assert response.status_code == 200 and not genuine(response)
    assert SunKeys.objects.get(tag=chip.tag).last_counter == -1


def test_the_owners_tap_shows_the_mark_on_the_reading_form_and_remembers_it(alice, chip):
    client = client_for(alice)
    response = client.get(tap_url(chip, 3))
    assert response.status_code == 200 and genuine(response)
    assert 'data-testid="one-box"' in response.content.decode()
    assert str(chip.tag.twin_id) in client.session[nfc._SESSION_KEY]
    assert Scan.objects.get(tag=chip.tag).by_owner


def test_a_plain_nfc_chips_url_is_recorded_as_a_tap(anon_client, grinder_tag):
    assert grinder_tag.nfc_url.endswith(f"/t/{grinder_tag.token}?nfc=1")
    anon_client.get(grinder_tag.get_absolute_url() + "?nfc=1")
    anon_client.get(grinder_tag.get_absolute_url() + "?nfc=1")  # the kept page's path
    anon_client.get(grinder_tag.get_absolute_url())
    anon_client.get(grinder_tag.get_absolute_url() + "?utm_source=poster")
    sources = list(Scan.objects.filter(tag=grinder_tag).order_by("id").values_list("source", flat=True))
    assert sources == ["nfc", "nfc", "link", "link"]


def test_with_redis_a_buffered_nfc_scan_keeps_its_source_and_a_qr_scan_is_unchanged(
    scan_redis, anon_client, grinder_tag
):
    for suffix in ("", "", "?nfc=1", "?nfc=1"):  # the first of each fills the kept page
        assert anon_client.get(grinder_tag.get_absolute_url() + suffix).status_code == 200
    buffered = scan_redis.lrange(scan_buffer.BUFFER_KEY, 0, -1)
    assert [b'"src":"nfc"' in item for item in buffered] == [False, False, True, True]
    assert not any(b"src" in item for item in buffered[:2])  # a QR scan's item is as it was
    scan_buffer.flush_scan_buffer.call()
    assert sorted(Scan.objects.filter(tag=grinder_tag).values_list("source", flat=True)) == ["link"] * 2 + ["nfc"] * 2


def test_a_genuine_tap_is_never_served_from_the_kept_page(scan_redis, anon_client, chip):
    anon_client.get(chip.tag.get_absolute_url())  # the page is kept now
    assert genuine(anon_client.get(tap_url(chip, 1)))
    assert not genuine(anon_client.get(chip.tag.get_absolute_url()))


# Requiring a genuine tap for an action (a keeper's check-in): tags.nfc.require_genuine_tap.


@pytest.fixture
def rf_session():
    from django.contrib.sessions.backends.db import SessionStore

    return SessionStore


def _request(user, session):
    request = RequestFactory().post("/anything")
    request.user, request.session = user, session
    return request


def test_an_action_requiring_a_genuine_tap_is_refused_without_one_and_allowed_after(bob, grinder, chip, rf_session):
    client = client_for(bob)  # a keeper, say: signed in, not the owner
    session = rf_session()
    with pytest.raises(nfc.GenuineTapRequired, match="tap its NFC tag"):
        nfc.require_genuine_tap(_request(bob, session), twin_id=grinder.pk)
    response = client.get(tap_url(chip, 4))
    assert genuine(response)
    request = _request(bob, client.session)
    nfc.require_genuine_tap(request, twin_id=grinder.pk)  # no exception
    with pytest.raises(PermissionDenied):
        nfc.require_genuine_tap(request, twin_id=grinder.pk + 1)  # another thing's tap proves nothing here
    with pytest.raises(nfc.GenuineTapRequired):
        nfc.require_genuine_tap(request, twin_id=grinder.pk, within=-1)  # too long ago


def test_a_replayed_url_gives_no_genuine_tap_to_whoever_replays_it(bob, carol, chip, grinder):
    url = tap_url(chip, 6)
    assert genuine(client_for(bob).get(url))
    carol_client = client_for(carol)
    assert not genuine(carol_client.get(url))
    assert not nfc.has_genuine_tap(_request(carol, carol_client.session), twin_id=grinder.pk)


def test_an_anonymous_genuine_tap_sets_no_cookie(anon_client, chip):
    response = anon_client.get(tap_url(chip, 1))
    assert genuine(response) and not response.cookies


def test_require_genuine_tap_in_a_view_answers_403_with_the_message(bob, grinder, chip, rf_session):
    def check_in(request):
        nfc.require_genuine_tap(request, twin_id=grinder.pk)
        return HttpResponse("checked in")

    from django.core.handlers.exception import response_for_exception

    request = _request(bob, rf_session())
    try:
        check_in(request)
    except PermissionDenied as exc:
        response = response_for_exception(request, exc)
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_same_tap_sent_at_once_from_eight_connections_is_genuine_once(grinder_tag):
    from django.db import connection

    from tests.conftest import run_together

    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs a server database")
    (chip,) = nfc.sun_provision(tags=[grinder_tag])
    params = sun.encode_tap(meta_key=chip.meta_read_key, file_key=chip.file_read_key, uid=UID, counter=77)
    marker = nfc.read_marker(urlencode(params))
    outcomes = run_together(*[lambda: nfc.sun_tap_check(tag=grinder_tag, marker=marker).genuine] * 8)
    assert sorted(outcomes) == [("ok", False)] * 7 + [("ok", True)]
    assert SunKeys.objects.get(tag=grinder_tag).last_counter == 77
