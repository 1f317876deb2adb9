"""Outbound delivery over HTTP: real servers on loopback receive envelopes they open with ssi.envelope; temporary
failures are retried on the schedule, permanent ones fail at once, and no message is sent twice."""

from __future__ import annotations

import io
import json
import logging
import random
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection as db_connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from didcomm import outbox, transport
from didcomm.models import Connection, OutboundMessage
from didcomm.tasks import deliver_due, deliver_outbound
from didcomm.transport import MAX_ATTEMPTS, RETRY_SCHEDULE, backoff, deliver
from ssi import envelope, messages
from ssi.didkey import did_key
from ssi.keys import SigningKey
from tests.conftest import run_together
from tests.didcomm.endpoints import (
    closed_port,
    http_endpoint,
    open_envelope,
    open_message,
    verkey,
)

pytestmark = pytest.mark.django_db

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
SECRET = "the grinder's secret setting"


def queue(connection: Connection, endpoint: str, content: str = SECRET) -> OutboundMessage:
    """A basic message queued for the peer. (The test's transaction never commits, so no task runs for it.)"""
    if connection.their_endpoint != endpoint:
        connection.their_endpoint = endpoint
        connection.save(update_fields=["their_endpoint"])
    return outbox.basic_message_send(connection=connection, content=content)


def make_due(message: OutboundMessage) -> None:
    """Time passes: the next attempt is due now."""
    OutboundMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_a_message_is_packed_for_the_peer_and_posted_to_its_endpoint(connection, peer):
    with http_endpoint() as (url, received):
        message = queue(connection, url)
        deliver(message.pk)
    (raw,) = received.bodies
    assert received.content_types == [envelope.MEDIA_TYPE]
    opened = open_envelope(raw, peer)
    assert opened.sender_verkey == connection.my_verkey  # Authcrypt from our pairwise key
    assert json.loads(opened.message) == message.body
    assert "~transport" not in message.body  # HTTP asks for no return route
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT
    assert message.attempts == 1 and message.sent_at is not None and message.last_error == ""
    assert message.claimed_until is None


def test_a_500_is_retried_and_the_next_attempt_is_sent(connection, peer):
    with http_endpoint([500]) as (url, received):
        message = queue(connection, url)
        before = timezone.now()
        deliver(message.pk)
        message.refresh_from_db()
        assert message.status == OutboundMessage.Status.QUEUED
        assert message.attempts == 1
        assert "answered 500" in message.last_error
        first_wait = RETRY_SCHEDULE[0]
        assert before + first_wait * (1 - transport.JITTER) <= message.next_attempt_at
        assert message.next_attempt_at <= timezone.now() + first_wait * (1 + transport.JITTER)

        deliver(message.pk)  # not due yet: nothing happens
        assert len(received.bodies) == 1

        make_due(message)
        deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT
    assert message.attempts == 2
    assert len(received.bodies) == 2
    assert [open_message(raw, peer)["@id"] for raw in received.bodies] == [message.message_id] * 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 415])
def test_a_4xx_refusal_fails_the_message_at_once(connection, status):
    with http_endpoint([status]) as (url, received):
        message = queue(connection, url)
        deliver(message.pk)
        make_due(message)
        deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.FAILED
    assert message.attempts == 1
    assert f"answered {status}" in message.last_error
    assert len(received.bodies) == 1


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_timeouts_rate_limits_and_server_errors_are_temporary(connection, status):
    with http_endpoint([status]) as (url, _):
        message = queue(connection, url)
        deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.QUEUED
    assert message.next_attempt_at is not None


def test_a_redirect_is_not_followed_and_fails_the_message(connection):
    with http_endpoint([307]) as (url, received):
        message = queue(connection, url)
        deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.FAILED
    assert len(received.bodies) == 1


def test_a_refused_connection_is_retried_with_growing_waits(connection):
    message = queue(connection, f"http://127.0.0.1:{closed_port()}/")
    waits = []
    for attempt in range(1, 5):
        before = timezone.now()
        deliver(message.pk)
        message.refresh_from_db()
        assert message.status == OutboundMessage.Status.QUEUED
        assert message.attempts == attempt
        waits.append(message.next_attempt_at - before)
        make_due(message)
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    for wait, scheduled in zip(waits, RETRY_SCHEDULE, strict=False):
        assert scheduled * (1 - transport.JITTER) <= wait <= scheduled * (1 + transport.JITTER) + timedelta(seconds=5)
    assert "127.0.0.1" in message.last_error


def test_when_every_attempt_is_used_up_the_message_fails(connection):
    message = queue(connection, f"http://127.0.0.1:{closed_port()}/")
    for _ in range(MAX_ATTEMPTS - 1):
        deliver(message.pk)
        make_due(message)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.QUEUED and message.attempts == MAX_ATTEMPTS - 1
    deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.FAILED
    assert message.attempts == MAX_ATTEMPTS
    assert message.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    make_due(message)
    deliver(message.pk)  # failed is final
    message.refresh_from_db()
    assert message.attempts == MAX_ATTEMPTS


def test_the_backoff_grows_with_jitter_and_ends_after_the_last_attempt():
    rng = random.Random(7)
    for attempts, base in enumerate(RETRY_SCHEDULE, start=1):
        for _ in range(50):
            wait = backoff(attempts, rng=rng)
            assert base * (1 - transport.JITTER) <= wait <= base * (1 + transport.JITTER)
    assert len({backoff(1, rng=rng) for _ in range(20)}) > 1  # jittered, not a fixed beat
    assert backoff(MAX_ATTEMPTS) is None
    assert backoff(MAX_ATTEMPTS + 3) is None
    ceiling = [base * (1 + transport.JITTER) for base in RETRY_SCHEDULE]
    floor = [base * (1 - transport.JITTER) for base in RETRY_SCHEDULE]
    assert all(ceiling[i] < floor[i + 1] for i in range(len(RETRY_SCHEDULE) - 1))  # always growing


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("", "no endpoint"),
        ("ftp://127.0.0.1/inbox", "unsupported endpoint scheme"),
        ("mailto:agent@example.org", "unsupported endpoint scheme"),
    ],
)
def test_no_endpoint_or_an_unsupported_scheme_fails_at_once(connection, endpoint, reason):
    message = queue(connection, endpoint)
    deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.FAILED
    assert reason in message.last_error


def test_a_peer_key_that_cannot_be_packed_for_fails_at_once(connection):
    with http_endpoint() as (url, received):
        message = queue(connection, url)
        OutboundMessage.objects.filter(pk=message.pk).update(to_verkey="0OIl-not-base58")
        deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.FAILED
    assert "cannot pack" in message.last_error
    assert received.bodies == []


def test_a_message_queued_on_an_abandoned_connection_is_still_delivered(connection, peer):
    # Whoever queues decides (an abandoned exchange's problem report must reach the peer); delivery only sends.
    with http_endpoint() as (url, received):
        connection.their_endpoint = url
        connection.state = Connection.State.ABANDONED
        connection.save(update_fields=["their_endpoint", "state"])
        report = messages.problem_report(thid="their-response", code="response_processing_error", explanation="no")
        message = outbox.outbound_enqueue(connection=connection, body=report)
        deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT
    assert open_message(received.bodies[0], peer)["description"]["code"] == "response_processing_error"


def test_a_routing_key_wraps_the_envelope_in_a_forward_for_the_mediator(connection, peer):
    mediator = SigningKey.generate()
    connection.their_routing_keys = [did_key(mediator.verify_key)]
    connection.save(update_fields=["their_routing_keys"])
    with http_endpoint() as (url, received):
        message = queue(connection, url)
        deliver(message.pk)
    (raw,) = received.bodies
    outer = open_envelope(raw, mediator)
    assert outer.sender_verkey is None  # forwards are Anoncrypt
    forward = json.loads(outer.message)
    assert forward["@type"] == "https://didcomm.org/routing/1.0/forward"
    assert forward["to"] == verkey(peer)
    inner = open_envelope(json.dumps(forward["msg"]).encode(), peer)
    assert inner.sender_verkey == connection.my_verkey
    assert json.loads(inner.message)["@id"] == message.message_id


def test_a_failure_is_logged_without_the_message_body(connection, caplog):
    with http_endpoint([503]) as (url, _), caplog.at_level(logging.INFO, logger="didcomm.transport"):
        message = queue(connection, url)
        deliver(message.pk)
    assert f"outbound {message.pk}" in caplog.text and "503" in caplog.text
    assert SECRET not in caplog.text
    assert message.message_id not in caplog.text


# -- never twice ---------------------------------------------------------------


def test_a_sent_message_is_not_sent_again(connection):
    with http_endpoint() as (url, received):
        message = queue(connection, url)
        deliver(message.pk)
        deliver(message.pk)
        deliver_due()
    assert len(received.bodies) == 1


def test_a_message_another_worker_has_claimed_is_left_to_it(connection):
    with http_endpoint() as (url, received):
        message = queue(connection, url)
        OutboundMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))
        deliver(message.pk)
        assert received.bodies == []
        # A claim that lapsed (its worker died mid-send) is taken over.
        OutboundMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
        deliver(message.pk)
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT
    assert len(received.bodies) == 1


def test_of_two_claims_on_one_message_only_the_first_wins(connection):
    message = queue(connection, "http://127.0.0.1:1/")
    assert transport._claim(message.pk) is not None
    assert transport._claim(message.pk) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(db_connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL")
def test_two_workers_delivering_the_same_message_at_once_send_it_once(settings, connection):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # no delivery on commit
    hold = threading.Event()
    with http_endpoint(hold=hold) as (url, received):
        message = queue(connection, url)
        releaser = threading.Timer(1.0, hold.set)  # answer once both workers have tried
        releaser.start()
        outcomes = run_together(*(lambda: deliver(message.pk) for _ in range(4)))
        releaser.join()
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert len(received.bodies) == 1
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT and message.attempts == 1


# -- through the task worker -----------------------------------------------------


def test_a_temporary_failure_re_enqueues_the_task_for_the_next_attempt(settings, connection):
    settings.TASKS = DB_TASKS
    with http_endpoint([503]) as (url, _):
        message = queue(connection, url)
        deliver_outbound.call(message.pk)
    message.refresh_from_db()
    (task,) = DBTaskResult.objects.all()
    assert task.task_path == "didcomm.tasks.deliver_outbound"
    assert task.args_kwargs == {"args": [message.pk], "kwargs": {}}
    assert task.run_after == message.next_attempt_at


def test_with_a_backend_that_cannot_defer_the_sweep_picks_the_retry_up(connection, peer):
    # The test settings' ImmediateBackend cannot run a task later: the message waits for deliver_due.
    with http_endpoint([503]) as (url, received):
        message = queue(connection, url)
        deliver_outbound.call(message.pk)
        assert deliver_due() == 0  # not due yet
        make_due(message)
        assert deliver_due() == 1  # runs inline here
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT
    assert len(received.bodies) == 2


@pytest.mark.django_db(transaction=True)
def test_the_real_worker_delivers_queued_messages_and_their_retries(settings, connection, peer):
    settings.TASKS = DB_TASKS
    run_worker = lambda: call_command("db_worker", batch=True, startup_delay=False, verbosity=0)  # noqa: E731
    with http_endpoint([500]) as (url, received):
        message = queue(connection, url)  # commits: the task is enqueued on commit
        assert DBTaskResult.objects.count() == 1
        assert received.bodies == []

        run_worker()
        message.refresh_from_db()
        assert message.status == OutboundMessage.Status.QUEUED and message.attempts == 1
        retry = DBTaskResult.objects.get(status="READY")
        assert retry.run_after == message.next_attempt_at

        run_worker()  # the retry is not due: the worker leaves it
        assert len(received.bodies) == 1

        # Time passes.
        earlier = timezone.now() - timedelta(seconds=1)
        DBTaskResult.objects.filter(pk=retry.pk).update(run_after=earlier)
        OutboundMessage.objects.filter(pk=message.pk).update(next_attempt_at=earlier)
        run_worker()
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT and message.attempts == 2
    assert [open_message(raw, peer)["content"] for raw in received.bodies] == [SECRET, SECRET]
    assert not DBTaskResult.objects.filter(status="READY").exists()


def test_the_deliver_due_command_sends_what_is_due(connection, peer):
    with http_endpoint([503]) as (url, received):
        message = queue(connection, url)
        deliver(message.pk)
        make_due(message)
        out = io.StringIO()
        call_command("didcomm_deliver_due", stdout=out)
    assert out.getvalue().strip() == "1 message(s) enqueued for delivery"
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT
    assert len(received.bodies) == 2
