"""A support case between two Thingstead instances on loopback (tests/interop/test_two_instances.py starts them:
each its own uvicorn, task worker and database): the owner and the thing on A, the manufacturer on B. The thing's
agent connects to the manufacturer's by B's published invitation; the owner opens a case with two ticked items (the
serial and the thing's photo, an RFC 0017 inline attachment), B's processes are stopped while the owner writes
again and started afterwards (A's worker retries until B takes it), the manufacturer replies, the owner is told
(inbox, the email task, the case) and reads it, and the manufacturer sees the read receipt.

Slow (a migration, a restart and a retry round): a minute or two."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.interop.test_two_instances import GTIN, MANUFACTURER_SETUP, SERIAL, instances  # noqa: F401 (fixture)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), (120, 60, 10)).save(out, format="PNG")
    return out.getvalue()


OWNER_SETUP = """
from django.core.files.uploadedfile import SimpleUploadedFile
from didcomm.services import agent_invitation_accept
from owners.models import Owner
from twins.services import reading_add, twin_create

alice = Owner(username="alice", email="alice@example.org")
alice.set_unusable_password()
alice.save()
twin = twin_create(
    owner=alice, name="Kitchen grinder", serial=serial, model_name="Grindmaster 3000", reading_kind="grams",
    attributes={"Firmware": "2.4.1"}, photo=SimpleUploadedFile("p.png", bytes.fromhex(png)),
)
reading_add(twin=twin, value=17.5, kind="grams", unit="g")
connection = agent_invitation_accept(owner=alice, invitation_url=invitation, twin=twin)
twin.photo.open("rb")
photo = hashlib.sha256(twin.photo.read()).hexdigest()
print(json.dumps({"twin": twin.pk, "connection": connection.pk, "photo": photo}))
"""


@pytest.mark.slow
@pytest.mark.own_databases
def test_a_case_round_trips_between_two_instances_across_a_restart_of_the_manufacturer(instances):  # noqa: F811
    a, b = instances
    published = b.run(MANUFACTURER_SETUP, gtin=GTIN)["invitation"]
    owner = a.run("import hashlib\n" + OWNER_SETUP, invitation=published, serial=SERIAL, png=_png().hex())
    a.wait(
        "Connection.objects.get(pk=connection_id).state == 'completed'",
        setup=f"from didcomm.models import Connection\nconnection_id = {owner['connection']}\n",
        what="the thing's agent to connect with the manufacturer's",
    )

    opened = a.run(
        """
        from owners.models import Owner
        from support.services import case_open
        from twins.models import Twin
        case = case_open(
            owner=Owner.objects.get(username="alice"), twin=Twin.objects.get(pk=twin_id), connection_id=connection_id,
            subject="Uneven grind", text="The grind got uneven this week.", keys=["serial", "photo"],
        )
        print(json.dumps({"thread": case.thread_id, "case": case.public_id}))
        """,
        twin_id=owner["twin"],
        connection_id=owner["connection"],
    )
    b.wait(
        "Case.objects.filter(side='party', thread_id=thread).exists()",
        setup=f"from support.models import Case\nthread = {opened['thread']!r}\n",
        what="the case to reach the manufacturer",
    )
    party = b.run(
        """
        import base64, hashlib
        from support.models import Case
        case = Case.objects.get(side="party", thread_id=thread)
        first = case.messages.get()
        photo = first.attachments[0]
        print(json.dumps({
            "subject": case.subject, "org": case.organisation.slug, "context": first.context,
            "photo": hashlib.sha256(base64.b64decode(photo["data"]["base64"])).hexdigest(),
            "declared": photo["data"]["sha256"], "attachments": len(first.attachments), "status": case.status,
        }))
        """,
        thread=opened["thread"],
    )
    assert party["subject"] == "Uneven grind" and party["org"] == "acme" and party["status"] == "open"
    # Exactly the two ticked items: the serial and the photo (not the model, firmware or readings).
    assert party["context"] == {"serial": SERIAL} and party["attachments"] == 1
    assert party["photo"] == party["declared"] == owner["photo"]

    # The manufacturer's instance goes down; the owner writes meanwhile; A's worker keeps the message queued.
    b.stop()
    written = a.run(
        """
        from support.models import Case
        from support.services import owner_reply
        case = Case.objects.get(public_id=case_id)
        message = owner_reply(case=case, by=case.owner, text="It also squeaks now.")
        print(json.dumps({"id": message.message_id, "outbound": message.outbound_id}))
        """,
        case_id=opened["case"],
    )
    a.wait(
        "OutboundMessage.objects.filter(pk=outbound_id, status='queued', attempts__gte=1).exclude(last_error='')"
        ".exists()",
        setup=f"from didcomm.models import OutboundMessage\noutbound_id = {written['outbound']}\n",
        what="the first delivery attempt to fail while B is down",
    )
    b.start()
    b.wait(
        "CaseMessage.objects.filter(case__thread_id=thread, message_id=message_id, incoming=True).exists()",
        setup=(
            f"from support.models import CaseMessage\nthread = {opened['thread']!r}\nmessage_id = {written['id']!r}\n"
        ),
        timeout=120,
        what="the owner's message to reach the manufacturer once it is back (A's retry)",
    )

    replied = b.run(
        """
        from owners.models import Owner
        from support.models import Case
        from support.services import party_reply
        case = Case.objects.get(side="party", thread_id=thread)
        dora = Owner.objects.get(username="dora")
        message = party_reply(case=case, by=dora, text="Please descale it; see the manual.")
        print(json.dumps({"id": message.message_id}))
        """,
        thread=opened["thread"],
    )
    a.wait(
        "Notification.objects.filter(owner__username='alice', action_url=path, emailed_at__isnull=False).exists()",
        setup=f"from owners.models import Notification\npath = '/support/{opened['case']}/'\n",
        what="the owner to be told of the reply (inbox and email)",
    )
    told = a.run(
        """
        from support.models import Case
        case = Case.objects.get(public_id=case_id)
        got = case.messages.get(message_id=message_id)
        print(json.dumps({"text": got.text, "incoming": got.incoming, "by": got.author_label}))
        """,
        case_id=opened["case"],
        message_id=replied["id"],
    )
    assert told == {"text": "Please descale it; see the manual.", "incoming": True, "by": "Acme Grinders"}

    # The owner reads the case: the manufacturer's reply shows as read there.
    a.run(
        """
        from support.models import Case
        from support.services import case_mark_read
        print(json.dumps({"read": case_mark_read(case=Case.objects.get(public_id=case_id))}))
        """,
        case_id=opened["case"],
    )
    b.wait(
        "CaseMessage.objects.filter(message_id=message_id, incoming=False, read_at__isnull=False).exists()",
        setup=f"from support.models import CaseMessage\nmessage_id = {replied['id']!r}\n",
        what="the read receipt to reach the manufacturer",
    )
    # And B's own delivery state of the reply says read.
    assert b.run(
        """
        from support.models import CaseMessage
        print(json.dumps({"delivery": CaseMessage.objects.get(message_id=message_id, incoming=False).delivery}))
        """,
        message_id=replied["id"],
    ) == {"delivery": "read"}
