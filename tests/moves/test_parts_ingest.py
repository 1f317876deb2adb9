"""The ingest part of a move: the source feeding the thing comes along for the new owner with the same hook URL
and secret (the sender changes nothing) and its accepted webhook ids (a retry is answered from the record), the
device keys too; on the old host the hook answers 308 to the same path here once every thing it feeds moved."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ingest import services as ingest_services
from ingest.models import DeviceKey, Source, SourceThing
from ingest.portability import export
from ssi.keys import SigningKey
from tests.ingest.conftest import Sender
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    B_URL,
    assert_portable,
    mover,
    on_a,
    release,
)
from twins import moving
from twins import services as twin_services
from twins.models import Reading, Twin
from twins.transfer import offer_accept, offer_create

pytestmark = [pytest.mark.django_db, pytest.mark.needs("ingest"), pytest.mark.usefixtures("on_a")]


@pytest.fixture
def fed(alice, grinder):
    """Alice's grinder fed by a source (rotated once: the previous secret in its overlap), one message accepted,
    two device keys (one revoked)."""
    source, _ = ingest_services.source_create(owner=alice, name="Acme cloud")
    source, secret = ingest_services.source_rotate_secret(source=source, overlap=timedelta(hours=1))
    ingest_services.source_link_thing(source=source, twin=grinder, external_id="acme-grinder-7")
    sender = Sender(client=Client(), source=source, secret=secret)
    assert sender.post({"thing": "acme-grinder-7", "value": 3}, msg_id="msg_first").status_code == 200
    DeviceKey.objects.create(twin=grinder, public_key=SigningKey.generate().multibase, label="board")
    old = DeviceKey.objects.create(twin=grinder, public_key=SigningKey.generate().multibase, label="old board")
    DeviceKey.objects.filter(pk=old.pk).update(revoked_at=old.created_at)
    return grinder, source, secret


def _drop(source: Source):
    return lambda: Source.objects.filter(pk=source.pk).delete()


def test_the_source_and_device_keys_come_back_equal_for_the_new_owner(mover, fed, bob):
    grinder, source, secret = fed
    before = export(grinder)
    assert len(before["sources"]) == 1 and len(before["device_keys"]) == 2
    assert [d["webhook_id"] for d in before["sources"][0]["deliveries"]] == ["msg_first"]
    _, moved = mover(grinder, to_owner=bob, delete=_drop(source))
    assert export(moved) == before
    here = Source.objects.get(public_id=source.public_id)
    assert here.owner == bob and here.secrets()[0] == secret and len(here.secrets()) == 2


def test_the_sender_goes_on_unchanged_once_the_thing_is_live_here(mover, fed, bob):
    grinder, source, secret = fed
    _, moved = mover(grinder, to_owner=bob, delete=_drop(source))
    here = Source.objects.get(public_id=source.public_id)
    sender = Sender(client=Client(), source=here, secret=secret)
    arriving = sender.post({"thing": "acme-grinder-7", "value": 4})
    assert arriving.status_code == 409 and not Reading.objects.filter(twin=moved).exclude(value=3).exists()
    moving.activate(moved)
    again = sender.post({"thing": "acme-grinder-7", "value": 3}, msg_id="msg_first")
    assert again.status_code == 200  # the first answer, from the record: nothing stored twice
    assert Reading.objects.filter(twin=moved, value=3).count() == 1
    assert sender.post({"thing": "acme-grinder-7", "value": 5}).status_code == 200
    assert Reading.objects.filter(twin=moved, value=5).count() == 1


def test_the_package_is_json_and_holds_no_sealed_blob_of_ours(mover, fed, bob):
    grinder, source, _ = fed
    package, _ = mover(grinder, to_owner=bob, delete=_drop(source))
    assert_portable(package, "ingest")
    assert package["parts"]["ingest"]["sources"][0]["secret"]


def test_on_the_old_host_the_hook_answers_308_to_the_same_path_on_the_new_one(fed, bob):
    grinder, source, secret = fed
    release(grinder, to=bob)
    sender = Sender(client=Client(), source=source, secret=secret)
    response = sender.post({"thing": "acme-grinder-7", "value": 9})
    assert response.status_code == 308
    assert response["Location"] == f"{B_URL}/hooks/{source.public_id}"
    assert not Reading.objects.filter(value=9).exists()
    with_query = Client().post(f"/hooks/{source.public_id}?batch=1", data=b"{}", content_type="application/json")
    assert with_query.status_code == 308 and with_query["Location"] == f"{B_URL}/hooks/{source.public_id}?batch=1"


def test_a_source_that_still_feeds_a_thing_here_is_not_redirected(fed, alice, bob):
    grinder, source, secret = fed
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="kettle")
    release(grinder, to=bob)
    sender = Sender(client=Client(), source=source, secret=secret)
    assert sender.post({"thing": "kettle", "value": 7}).status_code == 200
    assert Reading.objects.filter(twin=kettle, value=7).exists()


def test_a_reading_arrives_device_signed_only_if_its_signature_holds_here(mover, fed, bob):
    from device.wire import device_sign

    grinder, source, secret = fed
    board = SigningKey.generate()
    DeviceKey.objects.create(twin=grinder, public_key=board.multibase, label="new board")
    sender = Sender(client=Client(), source=source, secret=secret)
    # A signed reading gives (and signs) its time (ingest, review finding 3 of session 12).
    measured = (timezone.now() - timedelta(minutes=1)).isoformat()
    genuine = device_sign({"thing": "acme-grinder-7", "value": 4, "time": measured}, board)
    assert sender.post(genuine, msg_id="msg_signed").status_code == 200
    real = Reading.objects.get(twin=grinder, device_signed=True)
    # What an owner who runs the old host could write into its database: typed values passed off as the device's.
    forged = {
        "another value under a real signature": {"value": 40.0},
        "a garbage signature": {"value": 4.0, "signature": "unot-a-signature"},
        "a key that is not the thing's": {"value": 4.0, "device_key": SigningKey.generate().multibase},
    }
    for note, changes in forged.items():
        Reading.objects.create(
            twin=grinder,
            kind=real.kind,
            time=real.time,
            note=note,
            device_signed=True,
            **{"device_key": real.device_key, "signature": real.signature, "signed_content": real.signed_content}
            | changes,
        )
    _, moved = mover(grinder, to_owner=bob, delete=_drop(source))
    arrived = dict(Reading.objects.filter(twin=moved, device_signed=True).values_list("value", "note"))
    assert arrived == {4.0: ""}  # the device's own reading only
    assert set(Reading.objects.filter(twin=moved, note__in=forged).values_list("note", "device_signed")) == {
        (note, False) for note in forged
    }


def test_a_package_without_the_ingest_part_brings_no_device_signed_reading(mover, fed, bob):
    grinder, source, _ = fed
    Reading.objects.create(
        twin=grinder, kind="grind", value=99, time=grinder.created_at, device_signed=True,
        device_key=SigningKey.generate().multibase, signature="unot-a-signature", signed_content={"value": 99},
    )  # fmt: skip

    def without_ingest(package: dict) -> None:
        del package["parts"]["ingest"]

    _, moved = mover(grinder, to_owner=bob, delete=_drop(source), tamper=without_ingest)
    assert Reading.objects.filter(twin=moved, value=99).exists()
    assert not Reading.objects.filter(twin=moved, device_signed=True).exists()  # nothing here could check it


def test_a_move_carries_no_source_of_a_previous_owner(
    mover, fed, alice, bob, carol, django_capture_on_commit_callbacks
):
    """Review finding 8 (session 11): bob bought alice's metered grinder and moves it; alice's source (which may
    feed her other things) and its secret must not travel, or whoever holds the package signs for her source. Her
    link is put back after the sale as one left by a sale before ingest.transfer unlinked them: the export itself
    takes the current owner's sources only."""
    grinder, alices, alices_secret = fed
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder = Twin.objects.get(pk=grinder.pk)
    SourceThing.objects.get_or_create(source=alices, twin=grinder, defaults={"external_id": "acme-grinder-7"})
    bobs, _ = ingest_services.source_create(owner=bob, name="Bob's gateway")
    ingest_services.source_link_thing(source=bobs, twin=grinder, external_id="bobs-grinder")
    package, moved = mover(grinder, to_owner=carol, delete=_drop(bobs))
    assert [item["public_id"] for item in package["parts"]["ingest"]["sources"]] == [bobs.public_id]
    text = json.dumps(package)
    assert alices.public_id not in text
    assert all(base64.b64encode(secret.encode()).decode() not in text for secret in alices.secrets())
    assert alices_secret not in text
    assert not Source.objects.filter(public_id=alices.public_id).exclude(owner=alice).exists()
    assert Source.objects.get(public_id=bobs.public_id).owner == carol
    assert [link.source.public_id for link in SourceThing.objects.filter(twin=moved)] == [bobs.public_id]
    assert len(package["parts"]["ingest"]["device_keys"]) == 2  # the thing's own keys go with it
