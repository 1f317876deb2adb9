"""A JSON import the json module cannot read to the end (a number of 5,000 digits: ValueError; arrays nested
100,000 deep: RecursionError) is a refused file naming its row, not a 500 (review finding 4 reopened: the dry run
crashed, its run stayed confirmable without a tag-code budget mark, and the confirmed import looked up, and claimed,
every tag code of the file). A run whose dry run did not finish cannot be confirmed, the import looks up no code for
it, and an import that stops on an unexpected error ends FAILED in words instead of "running" for good."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports import services
from imports.models import ImportRun
from tags.models import Tag
from tests.conftest import api_for
from tests.imports.conftest import upload
from twins.models import Twin

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags", "fleets")]

LONG_NUMBER = b"1" * 5000
DEEP = b"[" * 100_000 + b"]" * 100_000
SHAPES = pytest.mark.parametrize(
    ("value", "words"),
    [(LONG_NUMBER, "too many digits"), (DEEP, "nested too deeply")],
    ids=["a-5000-digit-number", "arrays-100000-deep"],
)


def _post(api, data: bytes):
    return api.post("/api/imports", {"file": SimpleUploadedFile("things.json", data)}, format="multipart")


def _rows_then(value: bytes, rows: list[dict]) -> bytes:
    body = b",".join(json.dumps(row).encode() for row in rows)
    return b"[" + body + b',{"name": "boom", "serial": ' + value + b"}]"


@SHAPES
def test_the_file_is_refused_naming_the_row_and_cannot_be_confirmed(alice_api, alice, value, words):
    response = _post(alice_api, _rows_then(value, [{"name": "Daisy"}, {"name": "Bella"}]))
    assert response.status_code == 201, response.content[:300]
    body = response.json()
    assert body["status"] == "refused"
    assert body["message"].startswith("row 3: not valid JSON (")
    assert words in body["message"]
    confirm = alice_api.post(f"/api/imports/{body['id']}/confirm")
    assert confirm.status_code == 409
    assert "cannot be confirmed" in confirm.json()["message"]
    assert not Twin.objects.filter(owner=alice).exists()


@SHAPES
def test_a_stranger_sticker_before_the_crash_row_stays_unassigned(bob, settings, value, words):
    bob_api = api_for(bob)
    settings.RATE_IMPORT_TAG_CODES_PER_ACCOUNT = "1/3600"
    settings.IMPORTS_BATCH_ROWS = 10
    sticker = Tag.objects.create(status=Tag.Status.UNASSIGNED, batch="a stranger's roll")
    rows = [{"name": f"x{n}", "tag_code": f"ZZZZZZZ{n}"} for n in range(5)]
    rows.append({"name": "found", "tag_code": sticker.code})  # row 6: past a budget of 1
    rows += [{"name": f"pad{n}"} for n in range(30)]  # the rows above are batches of their own
    run_id = _post(bob_api, _rows_then(value, rows)).json()["id"]
    assert bob_api.post(f"/api/imports/{run_id}/confirm").status_code == 409
    run = ImportRun.objects.get(pk=run_id)
    assert run.status == ImportRun.Status.REFUSED
    assert services.import_apply(run.pk).status == ImportRun.Status.REFUSED  # nothing to apply
    sticker.refresh_from_db()
    assert (sticker.status, sticker.twin) == (Tag.Status.UNASSIGNED, None)
    assert not Twin.objects.filter(owner=bob).exists()


def test_a_run_whose_dry_run_did_not_finish_cannot_be_confirmed(alice, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("a bug in the dry run")

    monkeypatch.setattr(services, "plan_batch", crash)
    with pytest.raises(RuntimeError):
        upload(alice, "name\nDaisy\n")
    run = ImportRun.objects.get(owner=alice)
    assert (run.status, run.tag_codes_until_row) == (ImportRun.Status.CHECKING, None)
    with pytest.raises(Exception, match="its dry run did not finish"):
        services.import_confirm(run=run)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.CHECKING


def test_the_import_of_a_run_without_a_finished_dry_run_looks_up_no_tag_code(bob):
    # As a run confirmed before the CHECKING status was: no budget mark. The import looks up no code not on the
    # owner's things at all (it did look up every one).
    sticker = Tag.objects.create(status=Tag.Status.UNASSIGNED)
    run = upload(bob, f"name,tag_code\nfound,{sticker.code}\n")
    ImportRun.objects.filter(pk=run.pk).update(status=ImportRun.Status.QUEUED, tag_codes_until_row=None)
    done = services.import_apply(run.pk)
    assert (done.status, done.created, done.failed) == (ImportRun.Status.DONE, 0, 1)
    sticker.refresh_from_db()
    assert (sticker.status, sticker.twin) == (Tag.Status.UNASSIGNED, None)


def test_an_import_that_stops_on_an_unexpected_error_ends_failed_in_words(alice, settings, monkeypatch):
    settings.IMPORTS_BATCH_ROWS = 2
    run = upload(alice, "name\n" + "".join(f"Cow {n}\n" for n in range(5)))
    services.import_confirm(run=run)
    real = services._apply_batch
    calls = []

    def second_batch_crashes(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the worker's bug")
        return real(*args)

    monkeypatch.setattr(services, "_apply_batch", second_batch_crashes)
    with pytest.raises(RuntimeError):
        services.import_apply(run.pk)
    run.refresh_from_db()
    assert (run.status, run.created, run.cursor) == (ImportRun.Status.FAILED, 2, 3)
    assert run.message == (
        "The import stopped after row 3 on an unexpected error. Upload the file again to import the rest."
    )
    assert run.finished_at is not None
    assert services.import_apply(run.pk).status == ImportRun.Status.FAILED  # not taken up again
