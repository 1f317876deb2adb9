"""A support case between a thing's owner and its maker, both agents on this instance, connected by a real DID
Exchange; every message travels as a real RFC 0019 envelope (tests/support/conftest.py pump)."""

from __future__ import annotations

import base64
import hashlib
import io
import random
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from didcomm.models import InboundMessage, OutboundMessage
from didcomm.tasks import receive
from didcomm.transport import pack_outbound
from didcomm.views import MAX_BODY
from owners.models import Notification
from support import protocol, services
from support.models import Case, CaseMessage
from tests.support.conftest import pump
from twins import services as twin_services
from twins.models import HistoryEntry, JournalNote, Reading

pytestmark = pytest.mark.django_db


def _open(olga, grindmaster, link, keys, **extra):
    thing_side, _ = link
    return services.case_open(
        owner=olga,
        twin=grindmaster,
        connection_id=thing_side.pk,
        subject="Grinds unevenly",
        text="Since Tuesday the grind is uneven.",
        keys=keys,
        **extra,
    )


def _party_case(acme) -> Case:
    return Case.objects.get(side=Case.Side.PARTY, organisation=acme)


def test_the_maker_receives_exactly_what_the_owner_ticked(
    acme, olga, grindmaster, link, django_capture_on_commit_callbacks
):
    cleaned = JournalNote.objects.get(twin=grindmaster, title="Burr cleaned")
    case = _open(olga, grindmaster, link, ["model", "readings:grams", "photo", f"journal:{cleaned.pk}"])
    pump()
    party = _party_case(acme)
    assert party.thread_id == case.thread_id and party.model.gtin == "09506000134352"
    [opened] = party.messages.all()
    assert opened.incoming and opened.kind == CaseMessage.Kind.OPEN
    assert opened.context["model"] == {"name": "Grindmaster 3000", "gtin": "09506000134352"}
    assert [r["value"] for r in opened.context["readings"]["grams"]] == [18.0, 18.5]
    assert [j["title"] for j in opened.context["journal"]] == ["Burr cleaned"]
    # Not ticked: the serial, the firmware, the temperature readings, the other journal entry.
    raw = str(InboundMessage.objects.get(message_id=case.thread_id).body)
    for secret in ("GM-0042", "2.4.1", "temperature", "Private trip", "camping"):
        assert secret not in raw
    [photo] = opened.attachments
    grindmaster.photo.open("rb")
    content = grindmaster.photo.read()
    assert base64.b64decode(photo["data"]["base64"]) == content
    assert photo["data"]["sha256"] == hashlib.sha256(content).hexdigest() and photo["byte_count"] == len(content)
    # The members of Acme hear of it in their inbox; the owner's history records the case, as a message entry.
    assert (
        Notification.objects.filter(owner__username__in=["dora", "erin"], action_url__contains=party.public_id).count()
        == 2
    )
    entry = HistoryEntry.objects.filter(twin=grindmaster, kind=HistoryEntry.Kind.MESSAGE).order_by("-seq").first()
    assert HistoryEntry.Kind.MESSAGE in HistoryEntry.REDACTABLE
    assert any(
        e.entry.get("content", {}).get("support") == "opened" for e in HistoryEntry.objects.filter(twin=grindmaster)
    )
    assert entry is not None


def _noise_jpeg(side: int) -> bytes:
    """A photo that compresses badly: ~1 MB of JPEG at 1,200 px."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3)).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_what_the_owner_may_tick_always_fits_what_the_maker_takes(acme, olga, grindmaster, link):
    """Five kinds of 60 readings (300: the other side takes 200) and two large photos: the case still arrives,
    every kind in it, in one envelope under what POST /didcomm/ reads (the review found both refused)."""
    now = timezone.now()
    for kind in "abcde":
        Reading.objects.bulk_create(
            Reading(twin=grindmaster, kind=kind, value=i, time=now - timedelta(minutes=i)) for i in range(60)
        )
    twin_services.twin_set_photo(twin=grindmaster, photo=SimpleUploadedFile("big.jpg", _noise_jpeg(1200)))
    keys = [f"readings:{kind}" for kind in "abcde"] + ["photo"]

    case = _open(olga, grindmaster, link, keys, photo=SimpleUploadedFile("new.jpg", _noise_jpeg(1100)))

    queued = OutboundMessage.objects.filter(status=OutboundMessage.Status.QUEUED).order_by("id").first()
    assert len(pack_outbound(queued)) < MAX_BODY
    pump()
    [opened] = _party_case(acme).messages.all()
    readings = opened.context["readings"]
    assert sorted(readings) == list("abcde") and sum(map(len, readings.values())) == protocol.MAX_CONTEXT_ITEMS
    assert len(opened.attachments) == 2 and case.status == Case.Status.OPEN


def test_more_kinds_than_the_other_side_takes_is_refused_in_words(olga, grindmaster, link):
    for n in range(protocol.MAX_ASKS + 1):
        twin_services.reading_add(twin=grindmaster, value=n, kind=f"kind{n}")
    with pytest.raises(ValidationError, match="at most 20 kinds"):
        _open(olga, grindmaster, link, [f"readings:kind{n}" for n in range(protocol.MAX_ASKS + 1)])
    assert not Case.objects.exists()


def test_a_case_goes_back_and_forth_with_ask_provide_read_receipts_and_close(
    acme, dora, olga, grindmaster, link, django_capture_on_commit_callbacks
):
    case = _open(olga, grindmaster, link, ["model"])
    pump()
    party = _party_case(acme)
    reply = services.party_reply(case=party, by=dora, text="Please try a finer setting first.")
    pump()
    case.refresh_from_db()
    got = case.messages.get(message_id=reply.message_id)
    assert got.incoming and got.text == "Please try a finer setting first." and got.author_label == "Acme Grinders"
    # The owner is told: inbox with the case's button, and an email.
    item = Notification.objects.get(owner=olga, action_url=f"/support/{case.public_id}/")
    assert "replied" in item.title and item.twin == grindmaster
    # Delivery state on the sender's side: sent, then read once the owner read it.
    reply.refresh_from_db()
    assert reply.delivery == "sent"
    assert services.case_mark_read(case=case) == 1
    assert services.case_mark_read(case=case) == 0  # nothing more to acknowledge
    pump()
    reply.refresh_from_db()
    assert reply.delivery == "read" and reply.read_at is not None
    # The maker asks for more; the owner's case waits for them; the owner sends the serial.
    services.party_ask(case=party, by=dora, asks=["serial", "firmware"], text="Which unit is it?")
    pump()
    case.refresh_from_db()
    assert case.status == Case.Status.WAITING
    services.owner_provide(case=case, by=olga, keys=["serial"])
    pump()
    party.refresh_from_db()
    assert party.status == Case.Status.OPEN and party.thing == {
        "model": {"name": "Grindmaster 3000", "gtin": "09506000134352"}
    }
    provided = party.messages.get(kind=CaseMessage.Kind.PROVIDE)
    assert provided.context == {"serial": "GM-0042"}
    # The maker closes it: the owner's case is resolved too.
    services.case_status(case=party, by=dora, status="resolved", text="Fixed by a finer setting.")
    pump()
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED
    with pytest.raises(ValidationError):
        services.case_status(case=case, by=olga, status="resolved")


def test_emails_go_to_the_owner_for_replies(acme, dora, olga, grindmaster, link, django_capture_on_commit_callbacks):
    case = _open(olga, grindmaster, link, [])
    pump()
    with django_capture_on_commit_callbacks(execute=True):
        services.party_reply(case=_party_case(acme), by=dora, text="On it.")
        pump()
    assert any(case.subject in m.subject or "replied" in m.subject for m in mail.outbox if "olga@example.org" in m.to)


def test_many_replies_while_the_owner_has_not_read_are_one_email_and_each_an_inbox_item(
    acme, dora, olga, grindmaster, link, django_capture_on_commit_callbacks
):
    case = _open(olga, grindmaster, link, [])
    pump()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            services.party_reply(case=_party_case(acme), by=dora, text=f"Reply {n}.")
            pump()
    to_olga = [m for m in mail.outbox if "olga@example.org" in m.to]
    assert len(to_olga) == 1
    items = Notification.objects.filter(owner=olga, action_url__contains=case.public_id)
    assert items.count() == 5
    # Once she has read them, the next reply is emailed again.
    items.update(read_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.party_reply(case=_party_case(acme), by=dora, text="Anything else?")
        pump()
    assert len([m for m in mail.outbox if "olga@example.org" in m.to]) == 2


def test_answering_an_ask_about_a_thing_that_is_gone_is_refused_in_words_not_a_500(acme, dora, olga, grindmaster, link):
    case = _open(olga, grindmaster, link, [])
    pump()
    services.party_ask(case=_party_case(acme), by=dora, asks=["serial"], text="Which unit is it?")
    pump()
    Case.objects.filter(pk=case.pk).update(twin=None)  # as when an operator removed the thing
    case.refresh_from_db()
    with pytest.raises(ValidationError, match="no longer yours"):
        services.owner_provide(case=case, by=olga, keys=["serial"])


def test_a_redelivered_message_lands_once(acme, dora, olga, grindmaster, link):
    _open(olga, grindmaster, link, [])
    pump()
    party = _party_case(acme)
    reply = services.party_reply(case=party, by=dora, text="Once only.")
    outbound = OutboundMessage.objects.get(pk=reply.outbound_id)
    raw = pack_outbound(outbound)
    first = receive(raw=raw)
    second = receive(raw=pack_outbound(outbound))
    assert not first.duplicate and second.duplicate
    assert CaseMessage.objects.filter(message_id=reply.message_id, incoming=True).count() == 1
    assert Notification.objects.filter(owner__username="olga", title__contains="replied").count() == 1


def test_what_the_thing_does_not_offer_cannot_be_attached(acme, olga, grindmaster, link, carol):
    from twins import services as twin_services

    others = twin_services.twin_create(owner=carol, name="Carol's")
    note = twin_services.note_create(twin=others, title="Carol's secret")
    before = (Case.objects.count(), OutboundMessage.objects.count())
    with pytest.raises(ValidationError, match="nothing to attach"):
        _open(olga, grindmaster, link, ["model", f"journal:{note.pk}"])
    with pytest.raises(ValidationError, match="nothing to attach"):
        _open(olga, grindmaster, link, ["readings:no-such-kind"])
    assert (Case.objects.count(), OutboundMessage.objects.count()) == before


def test_only_the_things_parties_can_be_asked(olga, grindmaster, link, bob):
    from didcomm import outbox
    from didcomm import services as didcomm_services

    # A connection of bob's own agent is nobody the Grindmaster knows.
    elsewhere = outbox.invitation_create(agent=didcomm_services.agent_for_owner(bob))
    with pytest.raises(ValidationError, match="Choose one of the parties"):
        services.case_open(owner=olga, twin=grindmaster, connection_id=elsewhere.pk, subject="", text="Hi", keys=[])
    assert not Case.objects.exists()


# RFC 0035's problem report, and the name ACA-Py 1.7.0 sends it by.
@pytest.mark.parametrize("report", ["report-problem/1.0/problem-report", "notification/1.0/problem-report"])
def test_a_peer_that_does_not_speak_support_gets_basic_messages_and_its_replies_land(olga, grindmaster, link, report):
    """What a plain Aries agent does (ACA-Py: a problem report 'message-parse-failure' on the open's thread;
    then basic messages without a ~thread). The live proof with ACA-Py is tests/interop/test_support_acapy.py."""
    thing_side, _ = link
    case = _open(olga, grindmaster, link, ["model"])
    OutboundMessage.objects.filter(status=OutboundMessage.Status.QUEUED).update(status=OutboundMessage.Status.SENT)
    agent = thing_side.agent
    InboundMessage.objects.create(
        agent=agent,
        connection=thing_side,
        sender_verkey=thing_side.their_verkey,
        message_id="pr-1",
        type=f"https://didcomm.org/{report}",
        body={
            "@id": "pr-1",
            "~thread": {"thid": case.thread_id},
            "description": {"code": "message-parse-failure", "en": "no such type"},
        },
    )
    case.refresh_from_db()
    assert case.mode == Case.Mode.BASIC
    [resent] = OutboundMessage.objects.filter(status=OutboundMessage.Status.QUEUED)
    assert resent.type == "https://didcomm.org/basicmessage/1.0/message"
    assert resent.body["~thread"] == {"thid": case.thread_id} and "Grinds unevenly" in resent.body["content"]
    assert "Grindmaster 3000" in resent.body["content"]
    InboundMessage.objects.create(
        agent=agent,
        connection=thing_side,
        sender_verkey=thing_side.their_verkey,
        message_id="bm-1",
        type="https://didcomm.org/basicmessage/1.0/message",
        body={"@id": "bm-1", "content": "Try descaling."},
    )
    assert case.messages.get(message_id="bm-1").text == "Try descaling."


def test_refused_messages_get_problem_reports_and_write_nothing(acme, olga, grindmaster, link):
    thing_side, org_side = link
    case = _open(olga, grindmaster, link, [])
    pump()
    from ssi import messages as m

    image = {"@id": "a", "mime-type": "image/png"}
    bad = [
        m.new_message(protocol.REPLY, content="no thread"),
        m.new_message(protocol.REPLY, content="x", **{"~thread": {"thid": "nope"}}),
        m.new_message(protocol.STATUS, status="maybe", **{"~thread": {"thid": case.thread_id}}),
        m.new_message(
            protocol.REPLY,
            content="x",
            **{
                "~thread": {"thid": case.thread_id},
                "~attach": [{**image, "data": {"base64": "AAAA", "sha256": "0" * 64}}],
            },
        ),
        m.new_message(
            protocol.REPLY,
            content="x",
            **{
                "~thread": {"thid": case.thread_id},
                "~attach": [{**image, "data": {"links": ["http://10.0.0.1/x"], "sha256": "0"}}],
            },
        ),
    ]
    from didcomm.outbox import outbound_enqueue

    for body in bad:
        outbound_enqueue(connection=thing_side, body=body)
    before = CaseMessage.objects.count()
    pump()
    assert CaseMessage.objects.count() == before
    reports = OutboundMessage.objects.filter(connection=org_side, type__endswith="problem-report")
    assert reports.count() == len(bad)


def test_a_sold_thing_closes_its_cases_and_the_seller_keeps_them_to_read(acme, olga, grindmaster, link, bob):
    from support.receive import on_transferred
    from twins.events import Transferred
    from twins.models import Twin

    case = _open(olga, grindmaster, link, [])
    pump()
    Twin.objects.filter(pk=grindmaster.pk).update(owner=bob)
    on_transferred(
        Transferred(twin_id=grindmaster.pk, offer_id=0, seller_id=olga.pk, buyer_id=bob.pk, redacted_kinds=())
    )
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED
    case.twin.refresh_from_db()
    with pytest.raises(ValidationError, match="no longer yours"):
        services.owner_reply(case=case, by=olga, text="Still there?")
    # Reading it later marks it read for the seller, and sends nothing through the agent the buyer now holds.
    CaseMessage.objects.create(case=case, message_id="late", kind=CaseMessage.Kind.REPLY, incoming=True, text="Late")
    sent = OutboundMessage.objects.count()
    assert services.case_mark_read(case=case) == 1 and OutboundMessage.objects.count() == sent
