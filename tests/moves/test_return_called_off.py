"""A return (A → B → A) called off after its package arrived on A (security review finding 3, session 12).

The copy the thing left on A gave way as the package arrived (its replaced rows deleted, every other row pointed
at the arriving twin), so discarding the arrival hit a ProtectedError (the credentials' status list), the move
retried its discard for ever, the half-arrived twin kept the slug and the copy was gone. Now the copy gives way
only when the return goes live (twins.moving.activate): until then both stand, and a discard leaves the copy
exactly as it was, its slug answering as before; the same return asked again later goes through.

The journey (one database for both hosts) is tests/moves/test_return_keeps_others_records.py's.
"""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import base64
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from core.vault import seal
from credentials.models import OwnershipCredential, StatusList
from makers.models import ProducedThing, RecallNotice
from moves import bearer, steps
from moves.models import MoveIn
from owners.models import Notification
from ssi import move as sealing
from tags.models import Tag
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401 (fixtures)
from tests.moves.test_return_keeps_others_records import journey, on_a  # noqa: F401 (fixtures)
from tests.twins.test_moving import A_URL, B_URL
from twins import moving
from twins.models import Twin

pytestmark = [pytest.mark.django_db, pytest.mark.needs("makers", "tags", "credentials", "support")]


def _everything_about(copy: Twin) -> dict[str, Any]:
    """The copy's row and every row that points at it (each reverse relation, every column), and the rows of its
    tags and status list one step further: what a called-off return must leave as it found it."""
    seen: dict[str, Any] = {"twin": Twin.objects.filter(pk=copy.pk).values().first()}
    for relation in Twin._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete) or relation.many_to_many:
            continue
        model = relation.related_model
        rows = model._base_manager.filter(**{relation.field.attname: copy.pk}).order_by("pk").values()
        seen[f"{model._meta.label}.{relation.field.name}"] = list(rows)
    lists = StatusList.objects.filter(twin=copy)
    seen["credentials on its list"] = list(
        OwnershipCredential.objects.filter(status_list__in=lists).order_by("pk").values()
    )
    return seen


def _page(slug: str) -> tuple[int, str]:
    response = Client().get(f"/things/{slug}/")
    return response.status_code, response.headers.get("Location", "")


def test_a_return_called_off_after_arrival_leaves_the_copy_as_it_was_and_can_be_asked_again(
    journey, django_capture_on_commit_callbacks
):
    copy, package, frank = journey
    slug = copy.slug
    before, page_before = _everything_about(copy), _page(slug)
    assert page_before == (308, f"{B_URL}/things/{slug}/")
    assert before["tags.Tag.twin"] and before["makers.ProducedThing.twin"] and before["credentials on its list"]

    arrived = moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL)
    # While it arrives, the copy still stands under its slug, and the slug still answers for it.
    assert arrived.arriving and arrived.slug != slug and Twin.objects.get(pk=copy.pk).slug == slug
    assert _page(slug) == page_before
    # The thing is known here by its DID (and SCID) only once live: until then that is still the copy.
    assert list(Twin.objects.filter(did__startswith=copy.did.rsplit(":", 3)[0] + ":")) == [copy]
    # The same package again (a retried push) finds the arrival, and adds nothing.
    assert moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL).pk == arrived.pk
    assert Twin.objects.filter(arriving=True).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        moving.discard(Twin.objects.get(pk=arrived.pk))

    assert not Twin.objects.filter(pk=arrived.pk).exists()
    assert _everything_about(Twin.objects.get(pk=copy.pk)) == before
    assert _page(slug) == page_before

    # The same return, asked again later, goes through: the copy gives way as the thing goes live.
    returned = moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL)
    with django_capture_on_commit_callbacks(execute=True):
        returned = moving.activate(Twin.objects.get(pk=returned.pk))
    assert not Twin.objects.filter(pk=copy.pk).exists() and returned.slug == slug and not returned.arriving
    assert ProducedThing.objects.get(serial="G-1").twin_id == returned.pk
    assert RecallNotice.objects.get().twin_id == returned.pk
    assert Notification.objects.filter(twin=returned, title="Recall: Burr").exists()
    tokens = [item["token"] for item in package["parts"]["tags"]["tags"]]
    assert set(Tag.objects.filter(token__in=tokens).values_list("twin_id", flat=True)) == {returned.pk}
    assert OwnershipCredential.objects.standing().get(twin=returned).holder == frank


def _files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_the_rehearsal_of_a_return_leaves_no_photo_behind(journey, settings, django_capture_on_commit_callbacks):
    """The arrival restores the whole package once and rolls it back (a package refused then is refused while the
    source still holds the thing); the photo file that rehearsal wrote goes with it. Going live writes it once."""
    _copy, package, frank = journey
    package["parts"]["photo"] = {"name": "red.png", "data": base64.b64encode(_png()).decode()}
    root = Path(settings.MEDIA_ROOT)
    before = {name for name in _files(root) if name.startswith("photos/")}

    arrived = moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL)
    assert {name for name in _files(root) if name.startswith("photos/")} == before

    with django_capture_on_commit_callbacks(execute=True):
        returned = moving.activate(Twin.objects.get(pk=arrived.pk))
    assert {name for name in _files(root) if name.startswith("photos/")} == before | {returned.photo.name}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


def test_the_old_host_calling_off_a_return_ends_the_move_here_once(journey, django_capture_on_commit_callbacks):
    """The step that hears the source's 410 (moves.steps.discard_arrival): the move ends, cancelled, instead of
    failing its discard and trying again for ever; the copy still answers for the slug."""
    copy, package, frank = journey
    arrived = moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL)
    keys, token = sealing.new_keys(), bearer.new_token()
    move = MoveIn.objects.create(
        owner=frank,
        asked_for=f"{B_URL}/things/{copy.slug}/",
        source_url=B_URL,
        key_public=sealing.public_key_text(keys.public),
        key_sealed=seal(keys.private),
        token_sealed=bearer.sealed(token),
        token_hash=bearer.token_hash(token),
        remote_id="back",
        state=MoveIn.State.ARRIVED,
        twin=arrived,
        expires_at=timezone.now() + timedelta(days=1),
    )

    with django_capture_on_commit_callbacks(execute=True):
        steps.discard_arrival(move, "Cancelled on your old host before the move finished.")

    move.refresh_from_db()
    assert move.state == MoveIn.State.CANCELLED and move.twin_id is None
    assert not Twin.objects.filter(pk=arrived.pk).exists()
    assert Twin.objects.get(pk=copy.pk).moved_to == B_URL and _page(copy.slug)[0] == 308


def test_a_return_whose_kept_package_is_gone_does_not_go_live_empty(journey, settings):
    copy, package, frank = journey
    arrived = moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL)
    for path in (Path(settings.MEDIA_ROOT) / "tmp" / "returns").iterdir():
        path.unlink()

    with pytest.raises(moving.MoveRefused, match="no longer in this host's storage"):
        moving.activate(Twin.objects.get(pk=arrived.pk))

    assert Twin.objects.get(pk=arrived.pk).arriving
    assert Twin.objects.get(pk=copy.pk).slug == copy.slug
