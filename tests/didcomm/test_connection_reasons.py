"""A connection or message that cannot get through says why and what to do in the page's text, not in a tooltip
(`title`), which a phone cannot show (issue 14, finding 5)."""

from __future__ import annotations

import re

import pytest

from didcomm import outbox, services
from didcomm.models import Connection, OutboundMessage
from tests.didcomm.test_connections_page import completed

pytestmark = pytest.mark.django_db


def _visible(html: str) -> str:
    """The page's text as shown: tags (and so their attributes, titles included) removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def agent(grinder):
    return services.agent_for_twin(grinder)


def test_a_message_still_retrying_shows_why_and_what_to_do(agent, alice_client, grinder):
    connection = completed(agent)
    waiting = outbox.basic_message_send(connection=connection, content="Hello?")
    OutboundMessage.objects.filter(pk=waiting.pk).update(last_error="connection refused by 127.0.0.1:9")
    html = alice_client.get(f"/things/{grinder.slug}/connections/{connection.pk}/").content.decode()
    shown = _visible(html)
    assert "Not delivered yet: connection refused by 127.0.0.1:9" in shown
    assert "their agent is offline or its address is wrong" in shown
    assert 'title="connection refused' not in html


def test_a_message_that_failed_for_good_shows_why_and_what_to_do(agent, alice_client, grinder):
    connection = completed(agent)
    failed = outbox.basic_message_send(connection=connection, content="Hello?")
    OutboundMessage.objects.filter(pk=failed.pk).update(status="failed", last_error="http://x answered 500")
    shown = _visible(alice_client.get(f"/things/{grinder.slug}/connections/").content.decode())
    assert "Not delivered: http://x answered 500" in shown and "Nothing more will be tried" in shown


def test_a_connection_that_could_not_complete_shows_the_reason_on_the_list_and_its_page(agent, alice_client, grinder):
    connection = completed(agent)
    Connection.objects.filter(pk=connection.pk).update(
        state=Connection.State.ABANDONED, error="their agent refused the request: unknown invitation"
    )
    base = f"/things/{grinder.slug}/connections/"
    listed = _visible(alice_client.get(base).content.decode())
    assert "Why: their agent refused the request: unknown invitation" in listed
    assert "new invitation" in listed
    page = _visible(alice_client.get(f"{base}{connection.pk}/").content.decode())
    assert "Why: their agent refused the request: unknown invitation" in page
    assert "create a new invitation" in page
