"""A move's next step in the task worker, enqueued once the transaction that made it due commits. The periodic job
(moves.services.moves_resume, also ``manage.py moves_resume``) is the safety net behind each: a task lost with its
worker, a temporary failure's next attempt, a backend that runs tasks inline (the tests')."""

from __future__ import annotations

from django.db import transaction
from django.tasks import task

from moves import steps


@task()
def push_package(move_out_id: int) -> None:
    steps.push_package(move_out_id)


@task()
def announce_arrival(move_in_id: int) -> None:
    steps.announce_arrival(move_in_id)


def after_commit(step, move_id: int) -> None:
    """Enqueue ``step`` for ``move_id`` once the current transaction commits (never for one that rolls back)."""
    transaction.on_commit(lambda: step.enqueue(move_id))
