"""Importing things from CSV and JSON: the dry run, idempotence on external ids, updates with history, per-row
errors that name row, column and problem, and nothing half-written."""

from __future__ import annotations

import pytest

from imports import services
from imports.models import ImportedThing, ImportRun
from tags.models import Tag
from tests.imports.conftest import errors, run_import, upload
from twins.models import HistoryEntry, Twin

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags", "fleets")]

HERD = (
    "name,model,serial,external id,colour\n"
    "Daisy,Holstein,C-001,cow-1,black\n"
    "Bella,Jersey,C-002,cow-2,brown\n"
    "Rosie,Holstein,C-003,cow-3,\n"
)


def _state(owner) -> dict:
    """Everything an import could touch of the owner's things, to compare before and after."""
    twins = list(
        Twin.objects.filter(owner=owner).order_by("pk").values("pk", "name", "model_name", "serial", "attributes")
    )
    return {
        "twins": twins,
        "history": HistoryEntry.objects.filter(twin__owner=owner).count(),
        "mapped": ImportedThing.objects.filter(owner=owner).count(),
        "tags": list(Tag.objects.filter(twin__owner=owner).values_list("code", "status")),
    }


def test_a_csv_creates_things_with_their_attributes(alice):
    run = run_import(alice, HERD)
    assert (run.status, run.created, run.failed) == (ImportRun.Status.DONE, 3, 0)
    assert not run.chunks.exists()  # the file is deleted once imported
    daisy = Twin.objects.get(owner=alice, serial="C-001")
    assert (daisy.name, daisy.model_name, daisy.attributes) == ("Daisy", "Holstein", {"colour": "black"})
    assert Twin.objects.get(serial="C-003").attributes == {}
    assert daisy.did.startswith("did:webvh:")
    assert ImportedThing.objects.get(owner=alice, external_id="cow-1").twin == daisy


def test_the_same_file_twice_changes_nothing_not_even_history(alice):
    run_import(alice, HERD)
    before = _state(alice)
    again = run_import(alice, HERD)
    assert (again.will_create, again.will_update, again.will_leave) == (0, 0, 3)
    assert (again.created, again.updated, again.left_alone) == (0, 0, 3)
    assert _state(alice) == before


def test_a_changed_row_updates_its_thing_and_records_it_in_history(alice):
    run_import(alice, HERD)
    daisy = Twin.objects.get(serial="C-001")
    entries = daisy.history.count()
    changed = HERD.replace("Daisy,Holstein,C-001,cow-1,black", "Daisy II,Holstein,C-001,cow-1,white")
    run = run_import(alice, changed)
    assert (run.updated, run.left_alone, run.created) == (1, 2, 0)
    daisy.refresh_from_db()
    assert (daisy.name, daisy.attributes) == ("Daisy II", {"colour": "white"})
    entry = daisy.history.order_by("-seq").first()
    assert daisy.history.count() == entries + 1
    assert entry.kind == "updated"
    assert entry.entry["content"]["changed"] == {"name": "Daisy II", "attributes": {"colour": "white"}}


def test_the_dry_run_writes_nothing_until_confirmed(alice):
    before = _state(alice)
    run = upload(alice, HERD)
    assert (run.status, run.rows, run.will_create, run.check_errors) == (ImportRun.Status.CHECKED, 3, 3, 0)
    assert _state(alice) == before
    services.import_confirm(run=run)
    services.import_apply(run.pk)
    assert Twin.objects.filter(owner=alice).count() == 3


def test_a_bom_and_semicolons_are_read(alice):
    data = "\ufeffname;serial;weight\nDaisy;C-001;540,5\n".encode()
    run = run_import(alice, data)
    assert run.created == 1
    assert Twin.objects.get(owner=alice).attributes == {"weight": "540,5"}


def test_quoted_newlines_stay_in_their_cell_and_rows_are_counted_as_rows(alice):
    data = 'name,notes,serial\n"Daisy","calved\nin May",C-001\nBella,,C-001\n'
    run = upload(alice, data)
    assert errors(run) == ["row 3, column serial: “C-001” is also in row 2"]
    services.import_confirm(run=run)
    services.import_apply(run.pk)
    assert Twin.objects.get(owner=alice).attributes == {"notes": "calved\nin May"}


def test_a_two_megabyte_cell_is_a_row_error_not_a_crash(alice):
    big = "x" * (2 * 1024 * 1024)
    run = upload(alice, f"name,serial\nDaisy,{big}\nBella,C-002\n")
    assert run.status == ImportRun.Status.CHECKED
    assert errors(run) == ["row 2, column serial: 2,097,152 characters; at most 120"]
    assert (run.will_create, run.check_errors) == (1, 1)


def test_invalid_utf8_names_the_row_column_and_byte(alice):
    data = b"name,serial\nDaisy,C-001\nBella,C-\xff02\n"
    run = upload(alice, data)
    assert errors(run) == ["row 3, column serial: not valid UTF-8 (byte 0xFF at character 3)"]
    assert run.will_create == 1


def test_an_unknown_column_becomes_an_attribute_and_a_bad_heading_refuses_the_file(alice):
    run_import(alice, "name,Milk yield\nDaisy,31\n")
    assert Twin.objects.get(owner=alice).attributes == {"Milk yield": "31"}
    refused = upload(alice, "name,,serial\nDaisy,x,C-1\n")
    assert refused.status == ImportRun.Status.REFUSED
    assert refused.message.startswith("row 1, column 2: has no heading")
    long = upload(alice, f"name,{'y' * 61}\nDaisy,1\n")
    assert "cannot be an attribute name" in long.message


def test_a_photo_url_column_is_refused_and_never_fetched(alice):
    run = upload(alice, "name,photo url\nDaisy,http://127.0.0.1:9/cow.jpg\n")
    assert run.status == ImportRun.Status.REFUSED
    assert "photos are not fetched" in run.message
    with pytest.raises(Exception, match="cannot be confirmed"):
        services.import_confirm(run=run)


def test_formula_cells_are_stored_as_text_and_the_guard_is_removed(alice):
    run_import(alice, "name,serial,note\n=cmd|' /C calc'!A0,'=1+1,@SUM(A1)\n")
    twin = Twin.objects.get(owner=alice)
    assert (twin.name, twin.serial, twin.attributes) == ("=cmd|' /C calc'!A0", "=1+1", {"note": "@SUM(A1)"})


def test_bad_values_give_clear_row_errors_and_write_nothing_of_those_rows(alice):
    data = (
        "name,serial,group,tag code,external_id\n"
        "Daisy,C-001,Herd,,cow-1\n"
        ",C-002,,,cow-2\n"
        f"{'n' * 121},C-003,,,cow-3\n"
        "Rosie,C-004,A / B / C,,cow-4\n"
        "Molly,C-005,,nope,cow-5\n"
        "Gerty,C-006,,ZZZZ-ZZZZ,cow-6\n"
        "Dup,C-007,,,cow-1\n"
    )
    run = upload(alice, data)
    assert errors(run) == [
        "row 3, column name: empty; every thing needs a name",
        "row 4, column name: 121 characters; at most 120",
        "row 5, column group: The group “A / B / C” has more than one level: groups nest one level only (Site / Room).",
        "row 6, column tag_code: “nope” is not a tag code (8 letters and digits, ABCD-EFGH)",
        "row 7, column tag_code: no unassigned pre-printed tag has the code ZZZZ-ZZZZ",
        "row 8, column external_id: “cow-1” is also in row 2",
    ]
    services.import_confirm(run=run)
    done = services.import_apply(run.pk)
    assert (done.created, done.failed) == (1, 6)
    assert list(Twin.objects.filter(owner=alice).values_list("name", flat=True)) == ["Daisy"]
    assert ImportedThing.objects.filter(owner=alice).count() == 1


def test_a_serial_already_used_names_the_thing(alice):
    run_import(alice, "name,serial\nGrinder 17,G-17\n")
    run = upload(alice, "name,serial\nGrinder 18,G-17\n")
    assert errors(run) == ["row 2, column serial: “G-17” is already used by Grinder 17"]


def test_a_pre_printed_tag_is_attached_and_a_used_one_is_a_row_error(alice):
    free, other = Tag.objects.create(status=Tag.Status.UNASSIGNED), Tag.objects.create(status=Tag.Status.UNASSIGNED)
    run_import(alice, f"name,tag code,external_id\nDaisy,{free.display_code},cow-1\n")
    free.refresh_from_db()
    assert (free.status, free.twin.name) == (Tag.Status.ACTIVE, "Daisy")
    run = upload(alice, f"name,tag code,external_id\nDaisy,{free.code},cow-1\nBella,{free.code.lower()},cow-2\n")
    assert errors(run) == [
        f"row 3, column tag_code: “{free.code}” is also in row 2",
    ]
    assert (run.will_leave, run.check_errors) == (1, 1)
    run = upload(alice, f"name,tag code\nBella,{free.code}\nRosie,{other.code}\n")
    assert errors(run) == [f"row 2, column tag_code: the tag {free.display_code} is already attached to Daisy"]


def test_groups_are_made_and_joined_once(alice):
    from fleets.models import Group, Membership

    data = "name,external_id,group\nDaisy,cow-1,Farm / Barn\nBella,cow-2,Farm / Barn\n"
    run_import(alice, data)
    barn = Group.objects.get(owner=alice, name="Barn")
    assert barn.parent.name == "Farm"
    assert Membership.objects.filter(group=barn).count() == 2
    again = upload(alice, data.replace("Farm / Barn", "farm / barn"))
    assert (again.will_leave, again.will_update) == (2, 0)


def test_another_owners_external_ids_and_tags_never_collide_or_show(alice, bob):
    bobs_tag = Tag.objects.create(status=Tag.Status.UNASSIGNED)
    run_import(bob, f"name,external_id,serial,tag code\nBob's cow,cow-1,C-001,{bobs_tag.code}\n")
    run = run_import(alice, "name,external_id,serial\nDaisy,cow-1,C-001\n")
    assert run.created == 1
    assert Twin.objects.get(owner=alice).name == "Daisy"
    assert Twin.objects.get(owner=bob).name == "Bob's cow"
    # Bob's tag reads exactly as a code that does not exist: nothing of his is revealed.
    run = upload(alice, f"name,tag code\nRosie,{bobs_tag.code}\nMolly,ZZZZZZZZ\n")
    assert [e.split(": ", 1)[1] for e in errors(run)] == [
        f"no unassigned pre-printed tag has the code {bobs_tag.display_code}",
        "no unassigned pre-printed tag has the code ZZZZ-ZZZZ",
    ]
    # Nor does Bob's thing's slug name a thing of Alice's.
    bobs = Twin.objects.get(owner=bob)
    run = upload(alice, f"name,external_id\nX,{bobs.slug}\n")
    assert run.will_create == 1


def test_json_arrays_and_json_lines(alice):
    data = '[{"name": "Daisy", "serial": "C-001", "weight": 540, "external_id": "cow-1"},\n {"name": "Bella"}]'
    run = run_import(alice, data, "herd.json")
    assert run.created == 2
    assert Twin.objects.get(serial="C-001").attributes == {"weight": "540"}
    lines = '{"name": "Daisy", "external_id": "cow-1", "weight": 541}\n{"name": "Rosie", "tags": [1]}\n'
    run = upload(alice, lines, "herd.jsonl")
    assert (run.will_update, run.check_errors) == (1, 1)
    assert errors(run) == ["row 2, column tags: must be text or a number"]
    broken = upload(alice, '[{"name": "Daisy"}, {"name": ', "broken.json")
    assert broken.status == ImportRun.Status.REFUSED
    assert broken.message.startswith("row 2: not valid JSON")


@pytest.mark.needs("credentials")  # the ownership credential's entry
def test_an_imported_and_updated_thing_still_verifies_as_a_stranger_would(alice):
    from tags.models import Tag as TagModel
    from twins.verification import verify_twin

    tag = TagModel.objects.create(status=TagModel.Status.UNASSIGNED)
    run_import(alice, HERD)
    run_import(alice, HERD.replace("Daisy,Holstein,C-001,cow-1,black", "Daisy,Jersey,C-001,cow-1,black"))
    run_import(alice, f"name,external_id,tag code\nDaisy,cow-1,{tag.code}\n")
    daisy = Twin.objects.get(serial="C-001")
    assert [entry.kind for entry in daisy.history.order_by("seq")] == ["created", "credential", "updated", "tag"]
    result = verify_twin(daisy)
    assert result.ok, result.problem


def test_a_deactivated_thing_is_a_row_error_and_stays_as_it_was(alice):
    from twins.services import twin_deactivate

    run_import(alice, HERD)
    daisy = Twin.objects.get(serial="C-001")
    twin_deactivate(twin=daisy)
    run = upload(alice, HERD.replace("Daisy,", "Daisy II,"))
    assert errors(run) == ["row 2, column external_id: Daisy is deactivated; it cannot change any more"]
    daisy.refresh_from_db()
    assert daisy.name == "Daisy"


def test_a_cell_too_long_to_read_past_refuses_the_file_naming_its_row(alice, monkeypatch):
    import csv

    from imports import reader

    monkeypatch.setattr(reader, "MAX_CELL", 1000)  # the 4 MB limit, scaled down
    previous = csv.field_size_limit(1000)
    try:
        run = upload(alice, "name,serial\nDaisy,C-1\nBella," + "x" * 2000 + "\n")
        heading = upload(alice, '"name' + "x" * 2000 + "\nDaisy\n")
    finally:
        csv.field_size_limit(previous)
    assert (run.status, run.message) == (
        ImportRun.Status.REFUSED,
        "row 3: the file cannot be read past here (field larger than field limit (1000))",
    )
    assert heading.status == ImportRun.Status.REFUSED
    assert heading.message.startswith("row 1: the file cannot be read past here")
