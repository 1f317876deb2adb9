"""Firmware announcements and things that do not live here (issue 18): a thing that moved to another host, or is
still arriving here, gets no "update available" or "withdrawn" item from this host; owners of things that live
here still do."""

from __future__ import annotations

import pytest
from django.utils import timezone

from firmware import services
from makers.claims import claim
from makers.production import produce
from owners.models import Notification
from tests.firmware.test_withdraw import accept, publish
from twins.models import Twin

pytestmark = pytest.mark.django_db


def firmware_items(twin) -> list[str]:
    return list(Notification.objects.filter(twin=twin, title__startswith="Firmware").values_list("title", flat=True))


@pytest.mark.parametrize("where", ["moved away", "still arriving"])
def test_a_release_is_announced_only_to_owners_of_things_that_live_here(
    alices_grinder, acme_model, erin, bob, where, django_capture_on_commit_callbacks
):
    ((other, code),) = produce(model=acme_model, serials=["G-2"], by=None)
    claim(twin=other.twin, buyer=bob, code=code)
    change = {"moved_to": "https://new.example.org", "moved_at": timezone.now()} if where == "moved away" else {}
    Twin.objects.filter(pk=alices_grinder.pk).update(**(change or {"arriving": True}))

    with django_capture_on_commit_callbacks(execute=True):
        publish(acme_model, erin, "1.0")

    assert firmware_items(alices_grinder) == []
    assert firmware_items(other.twin) == ["Firmware 1.0 is available for " + other.twin.name]


def test_a_withdrawal_is_not_announced_for_a_thing_that_moved_away(
    alices_grinder, acme_model, dora, erin, alice, django_capture_on_commit_callbacks
):
    release = publish(acme_model, erin, "1.0")
    assert accept(alice, alices_grinder, 1).status_code == 200
    Twin.objects.filter(pk=alices_grinder.pk).update(moved_to="https://new.example.org", moved_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        services.release_withdraw(release=release, by=dora, reason="Overheats the motor")

    assert not Notification.objects.filter(twin=alices_grinder, title__contains="was withdrawn").exists()
