"""The resume job and its parts: claims, leases, retry schedule, expiry, the periodic registration and the command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.periodic import periodic_jobs
from moves import bearer, services, steps
from moves.models import MoveIn, MoveOut
from tests.moves.conftest import confirm, request_body

# Nothing listens on port 1.
CLOSED = "http://127.0.0.1:1"


@pytest.fixture
def confirmed(anon_api, grinder, alice) -> MoveOut:
    body = request_body(did=grinder.did, destination=CLOSED, destination_did_domain="b.localhost:1")
    move = MoveOut.objects.get(public_id=anon_api.post("/api/moves/requests", body, format="json").json()["id"])
    confirm(move_out=move, by=alice)  # its push task would run on commit: not in this test's transaction
    move.refresh_from_db()
    return move


def test_a_row_is_claimed_by_one_worker_at_a_time(confirmed):
    first = steps.claim(MoveOut, confirmed.pk, (MoveOut.State.CONFIRMED,))
    assert first is not None
    assert steps.claim(MoveOut, confirmed.pk, (MoveOut.State.CONFIRMED,)) is None
    assert steps.claim(MoveOut, confirmed.pk, (MoveOut.State.PUSHED,), due_only=False) is None


def test_a_lapsed_claim_is_taken_again_and_the_first_worker_cannot_record_over_it(confirmed):
    first = steps.claim(MoveOut, confirmed.pk, (MoveOut.State.CONFIRMED,))
    MoveOut.objects.filter(pk=confirmed.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    second = steps.claim(MoveOut, confirmed.pk, (MoveOut.State.CONFIRMED,))
    assert second is not None
    assert not steps.finish(first, state_was=MoveOut.State.CONFIRMED, error="late")
    assert steps.finish(second, state_was=MoveOut.State.CONFIRMED, error="")
    row = MoveOut.objects.get(pk=confirmed.pk)
    assert row.claimed_until is None and row.error == ""


def test_an_unreachable_destination_is_retried_later_with_the_reason(confirmed):
    before = timezone.now()
    assert services.moves_resume() == 1
    row = MoveOut.objects.get(pk=confirmed.pk)
    assert row.state == MoveOut.State.CONFIRMED and row.attempts == 1
    assert "127.0.0.1:1" in row.error and row.claimed_until is None
    assert row.next_attempt_at >= before + timedelta(seconds=29)
    assert services.moves_resume() == 0  # not due yet
    MoveOut.objects.filter(pk=confirmed.pk).update(next_attempt_at=timezone.now())
    assert services.moves_resume() == 1
    assert MoveOut.objects.get(pk=confirmed.pk).attempts == 2


def test_the_backoff_doubles_up_to_an_hour(settings):
    now = timezone.now()
    assert [(steps.backoff(n, now) - now).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert (steps.backoff(30, now) - now).total_seconds() == 3600
    settings.MOVES_BACKOFF_SECONDS = 1
    assert (steps.backoff(2, now) - now).total_seconds() == 2


def test_an_unconfirmed_request_expires_after_a_day_on_both_sides(anon_api, grinder, bob):
    body = request_body(did=grinder.did, destination=CLOSED)
    move = MoveOut.objects.get(public_id=anon_api.post("/api/moves/requests", body, format="json").json()["id"])
    MoveOut.objects.filter(pk=move.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    waiting = MoveIn.objects.create(
        owner=bob,
        asked_for="https://a.example/things/x/",
        source_url=CLOSED,
        key_public="k",
        key_sealed=b"x",
        token_sealed=b"x",
        token_hash="h" * 64,
        expires_at=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    services.moves_resume()
    assert MoveOut.objects.get(pk=move.pk).state == MoveOut.State.EXPIRED
    assert MoveIn.objects.get(pk=waiting.pk).state == MoveIn.State.EXPIRED


def test_the_resume_job_runs_in_every_task_worker():
    job = next(job for job in periodic_jobs() if job.name == "moves.resume")
    assert job.fn is services.moves_resume and job.every == 60


def test_the_command_resumes_and_says_how_many_steps(confirmed):
    out = StringIO()
    call_command("moves_resume", stdout=out)
    assert out.getvalue().strip() == "Move steps attempted: 1."
    assert MoveOut.objects.get(pk=confirmed.pk).attempts == 1


def test_a_step_that_breaks_does_not_stop_the_others(confirmed, bob, monkeypatch, caplog):
    waiting = MoveIn.objects.create(
        owner=bob,
        asked_for="https://a.example/things/x/",
        source_url=CLOSED,
        key_public="k",
        key_sealed=b"x",
        token_sealed=bearer.sealed("t" * 43),
        token_hash="h" * 64,
        expires_at=timezone.now() + timedelta(days=1),
        next_attempt_at=timezone.now(),
    )

    def broken(pk: int) -> None:
        raise RuntimeError("a bug in one step")

    monkeypatch.setattr(steps, "push_package", broken)
    assert services.moves_resume() == 2
    assert "a bug in one step" in caplog.text
    assert MoveIn.objects.get(pk=waiting.pk).attempts == 1  # the request step still ran (and failed: no host)
