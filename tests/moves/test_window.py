"""Between the owner's confirmation of a move and the old host letting go (issue 18, twins.leaving), nothing new is
written for the thing on the old host: its package was built at the confirmation, so whatever came after would stay
behind. The owner's writes are refused with 503, Retry-After and words; once the move is done, everything the owner
had before the confirmation is on the new host and nothing was added on the old one; after a cancel the thing takes
writes again.

Both roles on one live server (tests/moves/conftest.py): real HTTP between them, the resume job taking each step."""

from __future__ import annotations

import pytest

from moves import services
from moves.models import MoveIn, MoveOut
from tags.models import Scan, Tag
from tests.conftest import api_for, client_for
from tests.moves.conftest import confirm, make_room
from twins import leaving
from twins import services as twin_services
from twins.history import history_append
from twins.models import HistoryEntry, JournalNote, Reading, Twin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_database_parts")]


def _ask(bob, grinder) -> tuple[MoveIn, MoveOut]:
    move_in = services.move_request(owner=bob, source=grinder.did)
    return move_in, MoveOut.objects.get(remote_id=move_in.public_id)


def _rows(twin_id: int) -> dict[str, list]:
    """What the old host holds of the thing's data, row by row."""
    return {
        "readings": list(Reading.objects.filter(twin_id=twin_id).order_by("pk").values_list("pk", "value")),
        "notes": list(JournalNote.objects.filter(twin_id=twin_id).order_by("pk").values_list("pk", "title")),
        "history": list(HistoryEntry.objects.filter(twin_id=twin_id).order_by("seq").values_list("seq", "kind")),
        "scans": list(Scan.objects.filter(twin_id=twin_id).values_list("pk", flat=True)),
        "twin": list(Twin.objects.filter(pk=twin_id).values_list("name", "lost", "archived_at")),
    }


def _refused(response, host: str) -> None:
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == str(leaving.RETRY_AFTER)
    assert host in response.content.decode(), response.content[:300]


def _writes(alice, grinder, tag) -> dict[str, object]:
    """The owner's writes of each kind, by the pages, the API and the tag's one-tap form."""
    page, api = client_for(alice), api_for(alice, token=True)
    slug = grinder.slug
    return {
        "reading by the page": page.post(f"/things/{slug}/readings/new/", {"value": "8"}),
        "reading by the API": api.post(f"/api/things/{slug}/readings/", {"value": 8}, format="json"),
        "journal note": page.post(f"/things/{slug}/journal/new/", {"title": "Late note"}),
        "journal note by the API": api.post(f"/api/things/{slug}/journal/", {"title": "Late note"}, format="json"),
        "reading from a tag scan": page.post(f"{tag.get_absolute_url()}/reading", {"value": "9"}),
        "lost": page.post(f"/things/{slug}/lost/", {"lost": "on"}),
    }


def test_between_confirmation_and_release_writes_are_refused_and_the_new_host_gets_everything_before(
    roles, alice, bob, grinder, grinder_tag, no_worker
):
    twin_services.reading_add(twin=grinder, value=7, by=alice)
    twin_services.note_create(twin=grinder, title="Descaled", text="before the move", by=alice)
    move_in, move_out = _ask(bob, grinder)
    confirm(move_out=move_out, by=alice)
    at_confirmation = _rows(grinder.pk)

    for what, response in _writes(alice, grinder, grinder_tag).items():
        assert response.status_code == 503, (what, response.status_code, response.content[:200])
        # The thing's pages and API name the new host (roles.b_url) to its owner; the tag's form (outside them)
        # gets the history seam's words, which name neither the thing nor the host (the seam knows not who asks).
        _refused(response, "moving to another host" if what == "reading from a tag scan" else "127.0.0.1")
    assert _rows(grinder.pk) == at_confirmation

    make_room(grinder)
    # One database cannot hold the thing's tag twice either (its token travels): the old copy's goes.
    Tag.objects.filter(twin_id=grinder.pk).delete()
    assert services.moves_resume() == 1  # the push; the destination restores it
    assert services.moves_resume() == 1  # arrived: the old host lets go, the new one activates
    move_in.refresh_from_db()
    move_out.refresh_from_db()
    assert (move_in.state, move_out.state) == (MoveIn.State.DONE, MoveOut.State.DONE), (move_in.error, move_out.error)

    # Nothing was written on the old host after the confirmation (the release adds to the DID log only).
    assert _rows(grinder.pk) == at_confirmation
    # Everything the owner had before it is on the new host.
    arrived = move_in.twin
    assert list(Reading.objects.filter(twin=arrived).values_list("value", flat=True)) == [7]
    assert list(JournalNote.objects.filter(twin=arrived).values_list("title", "text")) == [
        ("Descaled", "before the move")
    ]
    old_history = [kind for _, kind in at_confirmation["history"]]
    new_history = list(HistoryEntry.objects.filter(twin=arrived).order_by("seq").values_list("kind", flat=True))
    assert new_history[: len(old_history)] == old_history
    # And the old copy stays closed: the seam names the new host.
    with pytest.raises(leaving.TwinMoved) as refused:
        history_append(twin=Twin.objects.get(pk=grinder.pk), kind=HistoryEntry.Kind.NOTE, content={"note": "x"})
    assert "127.0.0.1" in refused.value.message


def test_after_a_cancel_on_the_old_host_the_thing_takes_writes_again(
    roles, alice, bob, grinder, grinder_tag, no_worker
):
    _, move_out = _ask(bob, grinder)
    confirm(move_out=move_out, by=alice)
    _refused(client_for(alice).post(f"/things/{grinder.slug}/readings/new/", {"value": "8"}), "127.0.0.1")

    services.move_cancel(move=move_out, by=alice)
    move_out.refresh_from_db()
    assert move_out.state == MoveOut.State.CANCELLED
    assert Twin.objects.get(pk=grinder.pk).leaving_to == ""
    answers = {what: response.status_code for what, response in _writes(alice, grinder, grinder_tag).items()}
    assert answers == {
        "reading by the page": 302,
        "reading by the API": 201,
        "journal note": 302,
        "journal note by the API": 201,
        "reading from a tag scan": 302,
        "lost": 302,
    }
    assert sorted(Reading.objects.filter(twin=grinder).values_list("value", flat=True)) == [8, 8, 9]
    assert JournalNote.objects.filter(twin=grinder, title="Late note").count() == 2
