"""twins.moving and twins.parts: a twin packaged on one instance arrives on another, complete and verifiable.

Two instances in one database: the twin is made on A (DID domain source.example.com), packaged with its move
entries, A's copy stepped aside (another slug, as if that package had left for another machine), and unpacked on B
(settings switched to dest.example.com) for B's owner. Slugs are unique per instance, so A's copy must give up its
slug before the twin arrives; what is compared is what was read on A before.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from owners.keys import owner_keys_ensure, thing_keys
from owners.models import OwnerKey
from ssi import bundle, webvh
from twins import events, history, moving, parts, services
from twins.history import history_entries
from twins.identity import agent_key, log_jsonl, log_state
from twins.models import DidLogEntry, HistoryEntry, JournalNote, Reading, TransferOffer, Twin, new_public_id
from twins.portability import PACKAGE_FORMAT, PackageError
from twins.transfer import offer_accept, offer_create
from twins.verification import export_bundle

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
A_DOMAIN, A_URL = "source.example.com", "https://source.example.com"
B_DOMAIN, B_URL = "dest.example.com", "https://dest.example.com"


@pytest.fixture
def on_a(settings):
    settings.DID_DOMAIN, settings.SITE_URL = A_DOMAIN, A_URL
    return settings


def on_b(settings) -> None:
    settings.DID_DOMAIN, settings.SITE_URL = B_DOMAIN, B_URL


def photo_upload() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, format="PNG")
    return SimpleUploadedFile("red.png", out.getvalue(), content_type="image/png")


def keys_of(owner, twin: Twin) -> tuple[str, str]:
    """The owner's keys for `twin` (per thing, owners.keys.thing_keys), as the destination names them."""
    keys = thing_keys(owner_keys_ensure(owner=owner), twin.did)
    return keys.update_key, keys.next_key_hash


def entries_for(twin: Twin, by, to) -> list[dict]:
    current, next_hash = keys_of(to, twin)
    return moving.move_entries(
        twin, by=by, new_domain=B_DOMAIN, new_update_key=current, new_next_key_hash=next_hash, destination_url=B_URL
    )


@pytest.fixture
def lived(on_a, alice, bob) -> Twin:
    """A twin with a past: made by alice, readings, a note deleted (its entry redacted), sold to bob with the
    readings removed, then bob's own readings, notes and photo."""
    twin = services.twin_create(owner=alice, name="Bike", reading_kind="km", reading_unit="km")
    services.reading_add(twin=twin, value=10)
    gone = services.note_create(twin=twin, title="Private trip", text="to grandma's")
    services.note_delete(note=gone)
    offer = offer_accept(
        offer=offer_create(twin=Twin.objects.get(pk=twin.pk), seller=alice, redact_kinds=["reading"]), buyer=bob
    )
    assert offer.status == TransferOffer.Status.COMPLETED
    twin = Twin.objects.get(pk=twin.pk)
    for value in (12.5, 13, 14.25):
        services.reading_add(twin=twin, value=value, by=bob)
    services.note_create(twin=twin, title="New chain", text="Shimano, 2026", by=bob)
    services.twin_set_photo(twin=twin, photo=photo_upload())
    return Twin.objects.get(pk=twin.pk)


def snapshot(twin: Twin) -> dict:
    """What must be the same on B, read on A."""
    return {
        "fields": {
            name: getattr(twin, name)
            for name in ("slug", "name", "icon", "reading_kind", "reading_unit", "latest_value", "owner_since")
        },
        "created_at": twin.created_at,
        "readings": list(
            Reading.objects.filter(twin=twin)
            .order_by("time", "id")
            .values_list("kind", "value", "unit", "time", "source", "created_at")
        ),
        "readings_by_owner": Reading.objects.filter(twin=twin, added_by=twin.owner).count(),
        "notes": list(
            JournalNote.objects.filter(twin=twin).order_by("time").values_list("title", "text", "time", "created_at")
        ),
        "history": history_entries(twin),
        "redacted": HistoryEntry.objects.filter(twin=twin, redacted=True).count(),
        "log": log_jsonl(twin),
        "agent": agent_key(twin).multibase,
        "photo": twin.photo.read() if twin.photo else b"",
    }


def twins_package(twin: Twin, entries: list[dict]) -> dict:
    """The twins app's parts of the package (twins.parts), with the move entries: what this file tests. The
    features' parts are each app's own (tests/moves); leaving them out keeps their rows on "A" from colliding
    with themselves on "B" in this one database."""
    package = {
        "format": PACKAGE_FORMAT,
        "twin": {"slug": twin.slug, "did": twin.did},
        "parts": {part.name: part.export(twin) for part in parts.PARTS},
    }
    return moving.with_move_entries(package, entries)


def depart(twin: Twin, entries: list[dict]) -> dict:
    """The package as it leaves A, through JSON (as it travels); then A's copy steps aside (another slug), as if
    it were on another instance."""
    package = json.loads(json.dumps(twins_package(twin, entries)))
    Twin.objects.filter(pk=twin.pk).update(slug=new_public_id(), did="")
    return package


def test_new_twins_are_incepted_portable(on_a, alice):
    twin = services.twin_create(owner=alice, name="Kettle")
    first = json.loads(DidLogEntry.objects.get(twin=twin, version_number=1).line)
    assert first["parameters"]["portable"] is True
    assert log_state(twin).portable
    assert moving.can_move(twin) is None


def test_move_entries_hand_the_log_to_the_destination_owner_on_the_new_domain_with_the_same_scid(on_a, alice, carol):
    twin = services.twin_create(owner=alice, name="Kettle")
    before = log_state(twin)
    _, alice_next_hash = keys_of(alice, twin)
    carol_current, carol_next_hash = keys_of(carol, twin)
    entries = entries_for(twin, alice, carol)

    state = before
    for entry in entries:
        state = webvh.append_entry(state, entry)
    assert len(entries) == 2
    assert state.scid == before.scid
    assert state.did == f"did:webvh:{before.scid}:{B_DOMAIN}:twins:{twin.slug}"
    assert state.update_keys == (carol_current,)
    assert state.next_key_hashes == (carol_next_hash,)
    # Signed by alice's pre-committed next key (revealed by the first entry), as a transfer is.
    assert webvh.next_key_hash(state.versions[-2].update_keys[0]) == alice_next_hash
    assert state.document["alsoKnownAs"] == [before.did]
    assert state.document["service"][0]["serviceEndpoint"] == f"{B_URL}/didcomm/"
    # The agent key is the one that travels.
    assert webvh.assertion_keys(state.document) == (agent_key(twin).multibase,)
    # Nothing stored yet.
    assert DidLogEntry.objects.filter(twin=twin).count() == 1


def test_a_twin_moves_with_its_history_redactions_readings_notes_and_photo(lived, settings, bob, carol, tmp_path):
    before = snapshot(lived)
    assert before["redacted"] >= 2 and len(before["readings"]) == 3 and before["photo"]
    entries = entries_for(lived, bob, carol)
    package = depart(lived, entries)
    assert not Twin.objects.filter(slug=before["fields"]["slug"]).exists()

    on_b(settings)
    twin = moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    twin = Twin.objects.get(pk=twin.pk)
    after = snapshot(twin)

    assert twin.owner == carol and twin.arriving and not moving.is_live(twin)
    assert twin.did.startswith("did:webvh:") and f":{B_DOMAIN}:twins:{twin.slug}" in twin.did
    for key in ("fields", "created_at", "readings", "notes", "history", "redacted", "agent"):
        assert after[key] == before[key], key
    # bob's rows are carol's now (the same person under another account); the rest had no author.
    assert after["readings_by_owner"] == before["readings_by_owner"] == 3
    assert after["log"] == before["log"] + "".join(webvh.json_line(e) + "\n" for e in entries)
    assert log_state(twin).update_keys == (keys_of(carol, twin)[0],)
    # The photo is re-encoded as every upload is: still an image of the same size.
    assert Image.open(io.BytesIO(after["photo"])).size == Image.open(io.BytesIO(before["photo"])).size
    # The note's history entry points at the restored note (note_delete redacts by it).
    note = JournalNote.objects.get(twin=twin)
    assert HistoryEntry.objects.filter(twin=twin, kind="note", ref_id=note.pk).exists()

    # The owner's export from B verifies offline, with the same chain.
    exported = export_bundle(twin)
    assert bundle.verify_bundle(json.dumps(exported)).entries == len(before["history"])
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(exported), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ssi.verify", str(path)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"OK: {len(before['history'])} entries, {before['redacted']} redacted")


def test_the_package_is_json_and_carries_no_sealed_blob_of_the_source(lived, bob, carol):
    entries = entries_for(lived, bob, carol)
    text = json.dumps(moving.move_package(lived, entries=entries))
    sealed = [bytes(lived.agent_key_sealed)] + [
        bytes(key.sealed_seed) for key in OwnerKey.objects.exclude(sealed_seed=None)
    ]
    for blob in sealed:
        for form in (base64.b64encode(blob).decode(), blob.hex(), base64.urlsafe_b64encode(blob).decode()):
            assert form[:40] not in text
    # The agent key is in it, unsealed: the destination seals it under its own key.
    assert base64.b64encode(agent_key(lived).seed).decode() in text


def test_history_continues_on_the_destination_and_still_verifies(lived, settings, bob, carol):
    package = depart(lived, entries_for(lived, bob, carol))
    on_b(settings)
    twin = moving.activate(moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL))
    services.reading_add(twin=twin, value=20, by=carol)
    report = bundle.verify_bundle(json.dumps(export_bundle(twin)))
    assert report.did == twin.did
    assert HistoryEntry.objects.filter(twin=twin).order_by("-seq").first().kind == "reading"


def test_arriving_twice_with_the_same_package_returns_the_same_twin(lived, settings, bob, carol):
    package = depart(lived, entries_for(lived, bob, carol))
    on_b(settings)
    first = moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    again = moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    assert again.pk == first.pk and Twin.objects.filter(slug=first.slug).count() == 1


def test_a_package_whose_log_does_not_name_this_host_is_refused_and_nothing_is_written(lived, bob, carol, settings):
    package = depart(lived, entries_for(lived, bob, carol))
    settings.DID_DOMAIN = "third.example.com"  # another instance than the one the entries name
    with pytest.raises(PackageError, match="not on this host"):
        moving.arrive(package, owner=carol, source_url=A_URL, destination_url="https://third.example.com")
    assert not Twin.objects.filter(slug=package["twin"]["slug"]).exists()
    assert not Reading.objects.filter(twin__owner=carol).exists()


def test_a_package_whose_log_names_someone_elses_key_is_refused(lived, bob, carol, alice, settings):
    package = depart(lived, entries_for(lived, bob, carol))
    on_b(settings)
    with pytest.raises(PackageError, match="does not name your update key"):
        moving.arrive(package, owner=alice, source_url=A_URL, destination_url=B_URL)
    assert not Twin.objects.filter(slug=package["twin"]["slug"]).exists()


def test_a_tampered_history_is_refused(lived, bob, carol, settings):
    package = depart(lived, entries_for(lived, bob, carol))
    rows = package["parts"]["history"]["rows"]
    kept = next(row for row in rows if "content" in row[3] and row[1] == "reading")
    kept[3]["content"]["value"] = 99
    on_b(settings)
    with pytest.raises(PackageError, match="signed history does not verify"):
        moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    assert not Twin.objects.filter(slug=package["twin"]["slug"]).exists()


def test_release_appends_the_entries_marks_the_twin_moved_and_tells_after_commit(
    on_a, alice, carol, django_capture_on_commit_callbacks
):
    twin = services.twin_create(owner=alice, name="Kettle")
    entries = entries_for(twin, alice, carol)
    heard = []
    events.subscribe(events.TwinMovedAway, heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            moving.release(twin, entries=entries, destination_url=B_URL + "/")
            assert heard == []
    finally:
        events.unsubscribe(events.TwinMovedAway, heard.append)
    twin = Twin.objects.get(pk=twin.pk)
    assert twin.moved_to == B_URL and twin.moved_at is not None and not moving.is_live(twin)
    assert twin.leaving_to == B_URL  # kept set: the history's hot path reads only it
    assert heard == [events.TwinMovedAway(twin_id=twin.pk, owner_id=alice.pk, moved_to=B_URL)]
    assert log_state(twin).did.split(":")[3] == B_DOMAIN
    assert moving.can_move(twin) == f"Kettle has already moved to {B_DOMAIN}."
    # Again (B retried): nothing changes.
    moving.release(twin, entries=entries, destination_url=B_URL)
    assert DidLogEntry.objects.filter(twin=twin).count() == 3


def test_release_refuses_entries_that_do_not_continue_the_log_and_changes_nothing(on_a, alice, bob, carol):
    twin = services.twin_create(owner=alice, name="Kettle")
    entries = entries_for(twin, alice, carol)
    entries[1]["state"]["service"][0]["serviceEndpoint"] = "https://evil.example.com/didcomm/"
    with pytest.raises(moving.MoveRefused):
        moving.release(twin, entries=entries, destination_url=B_URL)
    twin = Twin.objects.get(pk=twin.pk)
    assert twin.moved_to == "" and DidLogEntry.objects.filter(twin=twin).count() == 1


def test_activate_makes_the_twin_live_and_sends_twin_arrived_once(
    lived, settings, bob, carol, django_capture_on_commit_callbacks
):
    old_did = lived.did
    package = depart(lived, entries_for(lived, bob, carol))
    on_b(settings)
    twin = moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    heard = []
    events.subscribe(events.TwinArrived, heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            moving.activate(twin)
            moving.activate(twin)
    finally:
        events.unsubscribe(events.TwinArrived, heard.append)
    assert heard == [events.TwinArrived(twin_id=twin.pk, owner_id=carol.pk, previous_did=old_did)]
    assert moving.is_live(Twin.objects.get(pk=twin.pk))


def test_only_the_owner_can_sign_a_move(on_a, alice, carol):
    twin = services.twin_create(owner=alice, name="Kettle")
    with pytest.raises(moving.MoveRefused) as refused:
        entries_for(twin, carol, carol)
    assert refused.value.status == 403


def test_a_twin_with_an_open_transfer_offer_cannot_move(on_a, alice, carol):
    twin = services.twin_create(owner=alice, name="Kettle")
    offer_create(twin=twin, seller=alice, redact_kinds=[])
    assert "open transfer offer" in moving.can_move(twin)
    with pytest.raises(moving.MoveRefused, match="open transfer offer"):
        entries_for(twin, alice, carol)


def test_a_deactivated_twin_cannot_move(on_a, alice):
    twin = services.twin_create(owner=alice, name="Kettle")
    twin = services.twin_deactivate(twin=twin)
    assert "deactivated" in moving.can_move(twin)


def test_bad_destination_keys_and_domains_are_refused_with_400(on_a, alice, carol):
    twin = services.twin_create(owner=alice, name="Kettle")
    current, next_hash = keys_of(carol, twin)
    for domain, key, hash_ in (
        ("127.0.0.1", current, next_hash),
        ("dest.example.com", "z6Mknot-a-key", next_hash),
        ("dest.example.com", current, "nope"),
        ("dest.example.com", current, webvh.next_key_hash(current)),
    ):
        with pytest.raises(moving.MoveRefused) as refused:
            moving.move_entries(twin, by=alice, new_domain=domain, new_update_key=key, new_next_key_hash=hash_)
        assert refused.value.status == 400


def test_readings_are_restored_in_batches(lived, settings, bob, carol):
    for i in range(2500):
        Reading.objects.create(twin=lived, kind="km", value=i, time=lived.created_at)
    package = depart(lived, entries_for(lived, bob, carol))
    on_b(settings)
    with CaptureQueriesContext(connection) as queries:
        twin = moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    assert Reading.objects.filter(twin=twin).count() == 2503
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "twins_reading"')]
    assert len(inserts) == 3


def test_arrive_takes_the_entries_from_the_packages_move_section(lived, settings, bob, carol):
    entries = entries_for(lived, bob, carol)
    package = depart(lived, [])
    package["move"] = {"entries": entries, "source": A_URL, "destination": B_URL}
    on_b(settings)
    twin = moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    assert twin.did == entries[-1]["state"]["id"]
    assert DidLogEntry.objects.filter(twin=twin).count() == len(package["parts"]["did_log"]) + 2


def test_discard_removes_an_arriving_twin_and_everything_restored_with_it(
    lived, settings, bob, carol, django_capture_on_commit_callbacks
):
    package = depart(lived, entries_for(lived, bob, carol))
    on_b(settings)
    twin = moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    photo = twin.photo.name
    assert twin.photo.storage.exists(photo)
    heard = []

    def listener(event) -> None:
        # In the transaction, before the delete: the twin is still there for a feature to clean up after.
        heard.append((event, Twin.objects.filter(pk=event.twin_id).exists()))

    events.subscribe(events.ArrivalDiscarded, listener, in_transaction=True)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            moving.discard(twin)
    finally:
        events.unsubscribe(events.ArrivalDiscarded, listener)
    assert heard == [(events.ArrivalDiscarded(twin_id=twin.pk, owner_id=carol.pk), True)]
    for model in (Twin, Reading, JournalNote, HistoryEntry, DidLogEntry):
        assert not model.objects.filter(**({"pk": twin.pk} if model is Twin else {"twin_id": twin.pk})).exists()
    assert not twin.photo.storage.exists(photo)


def test_a_live_twin_cannot_be_discarded(on_a, alice):
    twin = services.twin_create(owner=alice, name="Kettle")
    with pytest.raises(moving.MoveRefused, match="only a thing still arriving"):
        moving.discard(twin)
    assert Twin.objects.filter(pk=twin.pk).exists()


def test_the_package_carries_the_history_the_catch_ups_held_back(on_a, alice, carol):
    twin = services.twin_create(owner=alice, name="Kettle")
    held = [("reading", {"held": "back"}, None)]

    def catch_up(locked: Twin) -> list:
        pending, held[:] = list(held), []
        return pending

    history._catch_ups.append(catch_up)
    try:
        package = moving.move_package(twin, entries=entries_for(twin, alice, carol))
    finally:
        history._catch_ups.remove(catch_up)
    contents = [row[3].get("content") for row in package["parts"]["history"]["rows"]]
    assert {"held": "back"} in contents


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p["parts"]["readings"]["rows"][0].__setitem__(6, "nul \x00 in a note"),
        lambda p: p["parts"]["readings"]["rows"][0].__setitem__(2, "not a number"),
        lambda p: p["parts"]["journal"]["rows"][0].__setitem__(1, "x" * 5000),
        lambda p: p["parts"]["twin"]["fields"].__setitem__("attributes", {"colour": {"nested": "object"}}),
        lambda p: p["parts"]["twin"].__setitem__("agent_key", "not base64!"),
        lambda p: p["parts"]["photo"].__setitem__("data", base64.b64encode(b"not an image").decode()),
    ],
    ids=["nul", "value", "long-title", "attributes", "agent-key", "photo"],
)
def test_a_package_with_data_this_host_cannot_take_is_refused_in_words_and_nothing_is_written(
    lived, settings, bob, carol, spoil
):
    package = depart(lived, entries_for(lived, bob, carol))
    spoil(package)
    on_b(settings)
    with pytest.raises(PackageError) as refused:
        moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    assert str(refused.value)
    assert not Twin.objects.filter(slug=package["twin"]["slug"]).exists()
    assert not Reading.objects.filter(twin__owner=carol).exists()


def test_a_package_clashing_with_a_row_here_is_refused_without_saying_which_row_exists(
    lived, settings, bob, carol, alice, monkeypatch, caplog
):
    """Issue 18 review: the refusal goes back to the source; the database's words (PostgreSQL's DETAIL: "Key
    (slug)=(…) already exists") would tell it whether an id exists on this host."""
    from twins import portability

    victim = services.twin_create(owner=alice, name="Someone else's kettle")

    def restore_clash(data, arrival) -> None:
        Twin.objects.create(owner=arrival.owner, name="clash", slug=data)

    clash = portability.Part(name="zz_clash", export=lambda twin: None, restore=restore_clash, after=("twin",))
    monkeypatch.setitem(portability._PARTS, "zz_clash", clash)
    package = depart(lived, entries_for(lived, bob, carol))
    package["parts"]["zz_clash"] = victim.slug
    on_b(settings)
    with pytest.raises(PackageError) as refused:
        moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    message = str(refused.value)
    assert message == "the thing's zz_clash conflicts with data on this host"
    assert victim.slug not in caplog.text and "zz_clash" in caplog.text
    assert not Twin.objects.filter(slug=package["twin"]["slug"]).exists()


def _moved_away(twin: Twin, entries: list[dict]) -> Twin:
    """A's copy after the move: released (moved_to, the move entries in its log), under its slug."""
    moving.release(Twin.objects.get(pk=twin.pk), entries=entries, destination_url=B_URL)
    return Twin.objects.get(pk=twin.pk)


def test_a_package_claiming_a_moved_copys_did_cannot_take_its_slug(on_a, alice, bob, carol, settings):
    """Issue 18 review: the copy a moved thing left behind (its did.jsonl and redirects) gave way to any package
    whose twin part merely CLAIMED the copy's DID; the arriving DID log was another thing's."""
    victim = services.twin_create(owner=alice, name="Victim's bike")
    victim_entries = entries_for(victim, alice, carol)
    attacker = services.twin_create(owner=bob, name="Attacker's thing")
    package = depart(attacker, entries_for(attacker, bob, carol))  # its own, valid log, for carol on B
    package["parts"]["twin"]["fields"]["did"] = victim.did  # claims the victim's SCID
    slug = package["twin"]["slug"]
    # The victim's copy left behind on B (it moved on from there) holds that slug.
    copy = _moved_away(victim, victim_entries)
    Twin.objects.filter(pk=copy.pk).update(slug=slug)
    on_b(settings)
    with pytest.raises(PackageError, match=r"^the thing's id conflicts with data on this host$"):
        moving.arrive(package, owner=carol, source_url=A_URL, destination_url=B_URL)
    kept = Twin.objects.get(pk=copy.pk)
    assert kept.slug == slug and kept.moved_to == B_URL
    assert DidLogEntry.objects.filter(twin=kept).count() == len(log_state(kept).entries)


def test_a_twin_moving_back_replaces_the_copy_it_left_whose_log_it_extends(on_a, alice, bob, carol, settings):
    """A → B → A in one database: A's copy (released, its log ending with the move to B) gives way to the twin
    coming back with the same SCID and a log that extends it. With the credentials app installed, the copy's
    ownership credential PROTECTs its status list (both the copy's): that made every return fail before."""
    twin = services.twin_create(owner=alice, name="Boomerang")
    services.reading_add(twin=twin, value=1)
    slug = twin.slug
    to_b = entries_for(twin, alice, carol)
    package_to_b = json.loads(json.dumps(twins_package(twin, to_b)))
    copy = _moved_away(twin, to_b)
    # On B (the same database): A's copy steps aside while the twin is there, then comes back to its slug.
    Twin.objects.filter(pk=copy.pk).update(slug=new_public_id())
    on_b(settings)
    on_b_twin = moving.arrive(package_to_b, owner=carol, source_url=A_URL, destination_url=B_URL)
    moving.activate(on_b_twin)
    current, next_hash = keys_of(bob, on_b_twin)
    back = moving.move_entries(
        Twin.objects.get(pk=on_b_twin.pk),
        by=carol,
        new_domain=A_DOMAIN,
        new_update_key=current,
        new_next_key_hash=next_hash,
        destination_url=A_URL,
    )
    package_back = json.loads(json.dumps(twins_package(Twin.objects.get(pk=on_b_twin.pk), back)))
    Twin.objects.filter(pk=on_b_twin.pk).update(slug=new_public_id(), did="")  # B's copy, elsewhere
    Twin.objects.filter(pk=copy.pk).update(slug=slug)
    copy_log = [e["versionId"] for e in log_state(copy).entries]
    settings.DID_DOMAIN, settings.SITE_URL = A_DOMAIN, A_URL
    returned = moving.arrive(package_back, owner=bob, source_url=B_URL, destination_url=A_URL)
    # The copy stands until the thing goes live (review finding 3, session 12: a return may still be called off).
    assert returned.slug != slug and returned.pk != copy.pk and returned.arriving
    assert Twin.objects.get(pk=copy.pk).slug == slug
    returned = moving.activate(returned)
    assert returned.slug == slug and not returned.arriving
    assert not Twin.objects.filter(pk=copy.pk).exists()
    assert webvh.parse_did(returned.did).scid == webvh.parse_did(copy.did).scid
    assert [e["versionId"] for e in log_state(returned).entries][: len(copy_log)] == copy_log


def test_the_package_carries_no_move_state_so_an_older_host_still_takes_it(lived, bob, carol):
    # The source marks the twin leaving before it packs; a host without that field would refuse an unknown field.
    Twin.objects.filter(pk=lived.pk).update(leaving_to="https://b.example")
    lived = Twin.objects.get(pk=lived.pk)
    fields = moving.move_package(lived, entries=entries_for(lived, bob, carol))["parts"]["twin"]["fields"]
    assert {"leaving_to", "moved_to", "moved_at", "arriving"}.isdisjoint(fields)
