"""A recall and things that do not live here (issue 18): the source's fan-out makes no notice, inbox item or email
for a thing that moved to another host (or is still arriving here). Its owner is reached on the new host, through
the maker's DIDComm connection, which rotated there after the move: that notice still goes."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from didcomm.models import OutboundMessage
from makers import recalls
from makers.models import RecallNotice
from owners.models import Notification
from sharing.models import ConnectionSubject
from tests.makers.test_recall_didcomm import _no_network, connected, olga  # noqa: F401 (fixtures)
from tests.makers.test_recalls import fleet, issue, owners, produce, recipients  # noqa: F401 (fixtures)
from twins.models import Twin

pytestmark = pytest.mark.django_db


def test_the_fan_out_tells_no_one_here_about_things_that_moved_away_or_are_still_arriving(
    acme_model,
    dora,
    fleet,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    Twin.objects.filter(pk=fleet["0002"].pk).update(moved_to="https://new.example.org", moved_at=timezone.now())
    Twin.objects.filter(pk=fleet["0003"].pk).update(arriving=True)

    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0002", "0003", "0004"])

    assert recipients(recall) == {"paula"}
    assert set(Notification.objects.filter(kind="recall").values_list("owner__username", flat=True)) == {"paula"}
    assert [m.to[0] for m in mail.outbox] == ["paula@example.org"]
    assert not RecallNotice.objects.filter(twin__in=[fleet["0002"], fleet["0003"]]).exists()


def test_a_moved_things_owner_is_still_sent_the_notice_over_the_makers_connection(
    acme_model,
    dora,
    olga,  # noqa: F811
    connected,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    org_side, _ = connected
    twin = produce(acme_model, "0001", olga)
    ConnectionSubject.objects.create(
        connection=org_side, thing_did=twin.did, gtin=acme_model.gtin, serial="0001", twin=twin
    )
    Twin.objects.filter(pk=twin.pk).update(moved_to="https://new.example.org", moved_at=timezone.now())

    recall = issue(acme_model, dora, django_capture_on_commit_callbacks)

    [sent] = OutboundMessage.objects.filter(connection=org_side, type=recalls.NOTICE_TYPE)
    assert sent.body["thing"] == twin.did
    assert not RecallNotice.objects.filter(recall=recall).exists()
    assert not Notification.objects.filter(owner=olga, kind=Notification.Kind.RECALL).exists()
