"""A support case with a party that runs a plain Aries agent: a real ACA-Py 1.7.0 (tests/interop/acapy_live.py)
connected to the thing's agent by DID Exchange. ACA-Py does not know Thingstead's support/1.0 and says so with a
problem report on the open's thread; the case goes on as RFC 0095 basic messages on that thread (the open sent
again as one, with its context as text and its attachments), ACA-Py's own basic messages land in the case and
the owner is told, and the owner's reply reaches ACA-Py as a basic message on the case's thread."""

from __future__ import annotations

import time

import pytest

from didcomm import services as didcomm_services
from didcomm.models import InboundMessage, OutboundMessage
from owners.models import Notification
from support import services
from support.models import Case, CaseMessage
from tests.interop import test_acapy_scenarios as scenarios
from tests.interop.test_acapy_scenarios import admin, released, thingstead_invites, wait_until
from twins.models import Twin

pytestmark = pytest.mark.django_db(transaction=True)
live = scenarios.live  # the fixture: our endpoint is a live server, used by one thread at a time


def basic_message_to(webhooks, connection_id: str, contains: str, timeout: float = 30.0) -> dict:
    """ACA-Py's basicmessages webhook for a message on ``connection_id`` whose content holds ``contains``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for topic, payload in list(webhooks.events):
            if (
                topic == "basicmessages"
                and payload.get("connection_id") == connection_id
                and contains in payload.get("content", "")
            ):
                return payload
        with released():
            time.sleep(0.2)
    seen = [p.get("content", "")[:80] for t, p in webhooks.events if t == "basicmessages"]
    ours = list(OutboundMessage.objects.values_list("type", "status", "last_error"))
    theirs = list(InboundMessage.objects.values_list("type", "body"))
    raise AssertionError(
        f"no basic message holding {contains!r} reached ACA-Py; it got {seen}; we sent {ours}; we got {theirs}"
    )


def test_a_case_with_an_aca_py_party_runs_on_basic_messages_in_its_thread(
    live,
    alice,
    grinder,
    acapy_agent,
    acapy_webhooks,
):
    webhooks = acapy_webhooks.webhooks
    Twin.objects.filter(pk=grinder.pk).update(serial="GR-7", model_name="Grindmaster 3000")
    grinder.refresh_from_db()
    pair = thingstead_invites(acapy_agent, webhooks, didcomm_services.agent_for_twin(grinder), "1.1")

    case = services.case_open(
        owner=alice,
        twin=grinder,
        connection_id=pair.ours.pk,
        subject="Burr wobbles",
        text="The burr wobbles at fine settings.",
        keys=["model", "serial"],
    )
    # ACA-Py refuses the unknown type with a problem report on the thread; the open goes again as a basic message.
    got = basic_message_to(webhooks, pair.theirs, "Support case: Burr wobbles")
    assert "The burr wobbles at fine settings." in got["content"]
    assert "Model: Grindmaster 3000" in got["content"] and "Serial: GR-7" in got["content"]
    case.refresh_from_db()
    assert case.mode == Case.Mode.BASIC
    assert case.messages.filter(kind=CaseMessage.Kind.PROBLEM, text__startswith="message-parse-failure").exists()
    opened = case.messages.get(kind=CaseMessage.Kind.OPEN)
    assert wait_until(lambda: opened.__class__.objects.get(pk=opened.pk).delivery == "sent")

    # ACA-Py's own basic message (its admin API sends no ~thread) lands in the case, and the owner is told.
    admin(acapy_agent, "POST", f"/connections/{pair.theirs}/send-message", {"content": "Tighten the burr nut."})
    assert wait_until(lambda: case.messages.filter(incoming=True, text="Tighten the burr nut.").exists())
    assert Notification.objects.filter(owner=alice, action_url=f"/support/{case.public_id}/").exists()

    # The owner's reply goes to ACA-Py as a basic message.
    services.owner_reply(case=case, by=alice, text="Tightened it, thanks!")
    basic_message_to(webhooks, pair.theirs, "Tightened it, thanks!")
    # Closing it tells ACA-Py in words too.
    services.case_status(case=case, by=alice, status="resolved")
    basic_message_to(webhooks, pair.theirs, "(Case resolved.)")
