"""Two Thingstead instances on loopback, each its own processes and database: the manufacturer on B, a thing and
its owner on A. The thing is introduced to the manufacturer through an invitation of B's organisation agent, the
owner accepts on A, the manufacturer receives readings under the owner's grant, and a recall issued on B reaches
the owner on A.

Each instance is what production runs, minus the proxy (tests/interop/instances.py: uvicorn, the task worker, a
SQLite file of its own); the test drives each through ``manage.py shell`` and sees the other only over DIDComm.

Slow (a migration and several worker rounds): about a minute.
"""

from __future__ import annotations

import json

import pytest

from tests.interop.instances import Instance, migrated_database, start_all, stop_all

GTIN = "09506000134352"
SERIAL = "GM3-0001"


@pytest.fixture
def instances(tmp_path, tmp_path_factory):
    a, b = Instance("a", tmp_path), Instance("b", tmp_path)
    try:
        # The same empty schema for both: a copy of the session's freshly migrated file.
        start_all([a, b], migrated_database(tmp_path_factory.getbasetemp()))
        yield a, b
    finally:
        stop_all([a, b])


MANUFACTURER_SETUP = """
from didcomm import outbox
from didcomm.services import agent_for_owner
from makers.models import ProductModel
from owners.models import Owner

try:
    from makers.orgs import organisation_create
except ImportError:
    from makers.access import organisation_account_create as organisation_create

dora = Owner(username="dora", email="dora@example.org")
dora.set_unusable_password()
dora.save()
acme = organisation_create(slug="acme", name="Acme Grinders", admin=dora)
ProductModel.objects.create(
    organisation=acme, name="Grindmaster 3000", gtin=gtin, reading_kinds=[{"kind": "grams", "unit": "g"}]
)
# The invitation the organisation publishes for its things' agents (one per thing: an invitation takes one
# requester).
invitation = outbox.invitation_create(agent=agent_for_owner(acme.account))
print(json.dumps({"invitation": invitation.invitation_url}))
"""

OWNER_SETUP = """
from owners.models import Owner
from sharing.introductions import Party, introduction_start
from twins.services import twin_create

alice = Owner(username="alice", email="alice@example.org")
alice.set_unusable_password()
alice.save()
twin = twin_create(owner=alice, name="Grindmaster 3000", icon="coffee", serial=serial, reading_kind="grams")
introduction = introduction_start(
    twin=twin, party=Party(label="Acme Grinders", invitation_url=invitation, gtin=gtin, serial=serial)
)
print(json.dumps({"introduction": introduction.pk, "thing": twin.did, "twin": twin.pk}))
"""


@pytest.mark.slow
@pytest.mark.own_databases
def test_a_manufacturer_on_another_instance_is_introduced_gets_granted_readings_and_its_recall_reaches_the_owner(
    instances,
):
    a, b = instances
    published = b.run(MANUFACTURER_SETUP, gtin=GTIN)["invitation"]
    assert published.startswith(b.url + "/didcomm/?oob=")
    started = a.run(OWNER_SETUP, invitation=published, gtin=GTIN, serial=SERIAL)
    introduction_id, thing = started["introduction"], started["thing"]

    # B approves over DIDComm (its organisation auto-approves); A asks its owner.
    a.wait(
        "Introduction.objects.get(pk=introduction_id).state == 'proposed'",
        setup=f"from sharing.models import Introduction\nintroduction_id = {introduction_id}\n",
        what="the owner to be asked",
    )
    asked = a.run(
        """
        from owners.models import Notification
        from sharing.models import Introduction
        introduction = Introduction.objects.get(pk=introduction_id)
        item = Notification.objects.get(kind="introduction", owner=introduction.owner)
        print(json.dumps({"asks": introduction.asks_for, "title": item.title, "label": introduction.party_label}))
        """,
        introduction_id=introduction_id,
    )
    assert asked == {
        "asks": ["readings:grams"],
        "title": "Acme Grinders would like to connect",
        "label": "Acme Grinders",
    }

    # Before the owner decides, B knows the thing and nothing of its owner.
    learnt = b.run(
        """
        from didcomm.models import InboundMessage
        print(json.dumps({"bodies": [m.body for m in InboundMessage.objects.all()]}))
        """
    )
    assert "alice" not in json.dumps(learnt)

    a.run(
        """
        from owners.models import Owner
        from sharing.introductions import introduction_accept
        introduction_accept(owner=Owner.objects.get(username="alice"), introduction_id=introduction_id)
        print(json.dumps({}))
        """,
        introduction_id=introduction_id,
    )
    a.wait(
        "Introduction.objects.get(pk=introduction_id).state == 'connected'",
        setup=f"from sharing.models import Introduction\nintroduction_id = {introduction_id}\n",
        what="the owner's agent to connect with the manufacturer's",
    )
    # B's side of the connection is about the thing: its DID, GTIN and serial (not a twin of B's). B completes
    # its side when A's DID Exchange "complete" arrives, which may be after A calls the connection complete.
    b.wait(
        "ConnectionSubject.objects.filter(connection__state='completed').exists()",
        setup="from sharing.models import ConnectionSubject\n",
        what="the manufacturer's side of the connection to complete",
    )
    subjects = b.run(
        """
        from sharing.models import ConnectionSubject
        rows = ConnectionSubject.objects.filter(connection__state="completed")
        print(json.dumps({"subjects": [[s.thing_did, s.gtin, s.serial, s.twin_id] for s in rows]}))
        """
    )
    assert subjects["subjects"] == [[thing, GTIN, SERIAL, None]]

    # The owner grants Acme the readings; a reading on A reaches B.
    a.run(
        """
        from owners.models import Owner
        from sharing.grants import grant_create
        from sharing.models import Introduction
        from twins.services import reading_add
        introduction = Introduction.objects.select_related("twin", "owner_connection").get(pk=introduction_id)
        alice = Owner.objects.get(username="alice")
        grant_create(twin=introduction.twin, party=introduction.owner_connection, kinds=["readings"], by=alice)
        reading_add(twin=introduction.twin, value=17.5, kind="grams", unit="g")
        print(json.dumps({}))
        """,
        introduction_id=introduction_id,
    )
    b.wait(
        "ReceivedNotification.objects.filter(thing=thing).exists()",
        setup=f"from sharing.models import ReceivedNotification\nthing = {thing!r}\n",
        what="the granted reading to arrive at the manufacturer",
    )
    received = b.run(
        """
        from sharing.models import ReceivedNotification
        rows = ReceivedNotification.objects.filter(thing=thing)
        print(json.dumps({"kinds": sorted({r.kind for r in rows}), "body": json.dumps([r.body for r in rows])}))
        """,
        thing=thing,
    )
    assert received["kinds"] == ["readings"] and "17.5" in received["body"]

    # A recall of that serial, issued on B, reaches the owner on A (over the introduced connection).
    b.run(
        """
        from makers.models import Organisation
        from makers.recalls import recall_issue
        recall_issue(
            organisation=Organisation.objects.get(slug="acme"), by=None, gtin=gtin, title="Burr may crack",
            text="Stop using it and contact us.", severity="critical", serials=[serial],
        )
        print(json.dumps({}))
        """,
        gtin=GTIN,
        serial=SERIAL,
    )
    a.wait(
        "Notification.objects.filter(owner__username='alice', kind='recall').exists()",
        setup="from owners.models import Notification\n",
        what="the recall to reach the owner",
    )
    recall = a.run(
        """
        from owners.models import Notification
        item = Notification.objects.get(owner__username="alice", kind="recall")
        print(json.dumps({"title": item.title, "twin": item.twin_id}))
        """
    )
    assert recall == {"title": "Recall: Burr may crack", "twin": started["twin"]}
