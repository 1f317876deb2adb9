"""The support part carries the current owner's cases only (review finding 7, session 11).

A sale leaves the seller's cases about the thing on the thing (support.services.cases_close_on_transfer: closed,
hers to read). A move by the buyer must not carry them: on the destination they became the arriving owner's, the
seller's words shown as written by them."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import json

import pytest

from support.models import Case, CaseMessage
from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)
from twins.models import Twin
from twins.transfer import offer_accept, offer_create

pytestmark = [pytest.mark.django_db, pytest.mark.needs("support"), pytest.mark.usefixtures("on_a")]


def _case(*, owner, twin, subject: str, text: str, thread: str) -> Case:
    case = Case.objects.create(side=Case.Side.OWNER, thread_id=thread, owner=owner, twin=twin, subject=subject)
    CaseMessage.objects.create(
        case=case, message_id=thread, kind="open", incoming=False, author=owner, author_label=owner.username, text=text
    )
    return case


def test_a_move_carries_only_the_current_owners_support_cases(
    mover, alice, bob, carol, grinder, django_capture_on_commit_callbacks
):
    _case(owner=alice, twin=grinder, subject="Alice's complaint", text="I live at 12 Zq Street", thread="t-alice")
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder = Twin.objects.get(pk=grinder.pk)
    _case(owner=bob, twin=grinder, subject="Bob's question", text="Which burr fits?", thread="t-bob")

    package, moved = mover(grinder, to_owner=carol, delete=lambda: Case.objects.filter(owner=bob).delete())

    assert [case["subject"] for case in package["parts"]["support"]] == ["Bob's question"]
    assert "12 Zq Street" not in json.dumps(package)
    arrived = Case.objects.filter(twin=moved)
    assert [(case.subject, case.owner) for case in arrived] == [("Bob's question", carol)]
    assert not CaseMessage.objects.filter(case__owner=carol, text__contains="Zq Street").exists()
    assert Case.objects.get(thread_id="t-alice").owner == alice  # hers stays hers, on the old host
