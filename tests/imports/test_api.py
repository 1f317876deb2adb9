"""POST /api/imports answers with the dry run; GET follows it; POST …/confirm imports. Someone else's import is a
404 everywhere."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports import services
from imports.models import ImportRun
from twins.models import Twin

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags", "fleets")]

CSV = b"name,serial,external_id\nDaisy,C-001,cow-1\nBella,C-001,cow-2\n"


def _post(api, data: bytes = CSV, name: str = "herd.csv"):
    return api.post("/api/imports", {"file": SimpleUploadedFile(name, data, "text/csv")}, format="multipart")


def test_upload_answers_with_the_dry_run_and_writes_nothing(alice_api, alice):
    response = _post(alice_api)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "checked"
    assert body["dry_run"] == {"create": 1, "update": 0, "unchanged": 0, "errors": 1}
    assert body["errors"] == [
        {
            "row": 3,
            "column": "serial",
            "message": "“C-001” is also in row 2",
            "text": "row 3, column serial: “C-001” is also in row 2",
        }
    ]
    assert not Twin.objects.filter(owner=alice).exists()


def test_confirm_imports_and_reports_progress(alice_api, alice, django_capture_on_commit_callbacks):
    run_id = _post(alice_api).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(f"/api/imports/{run_id}/confirm")
    assert response.status_code == 202
    body = alice_api.get(f"/api/imports/{run_id}").json()
    assert body["status"] == "done"
    assert body["progress"] == {"done": 2, "percent": 100, "created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    assert body["errors"][0]["text"] == "row 3, column serial: “C-001” is also in row 2"
    assert list(Twin.objects.filter(owner=alice).values_list("name", flat=True)) == ["Daisy"]
    assert alice_api.post(f"/api/imports/{run_id}/confirm").status_code == 202  # again: nothing more
    assert Twin.objects.filter(owner=alice).count() == 1


def test_someone_elses_import_is_a_404(alice_api, carol_api):
    run_id = _post(alice_api).json()["id"]
    assert carol_api.get(f"/api/imports/{run_id}").status_code == 404
    assert carol_api.post(f"/api/imports/{run_id}/confirm").status_code == 404
    assert ImportRun.objects.get(pk=run_id).status == "checked"


def test_a_refused_file_is_kept_with_its_reason_and_cannot_be_confirmed(alice_api):
    response = _post(alice_api, b"name,photo_url\nDaisy,https://example.org/cow.jpg\n")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "refused"
    assert "photos are not fetched" in body["message"]
    confirm = alice_api.post(f"/api/imports/{body['id']}/confirm")
    assert confirm.status_code == 409
    assert "cannot be confirmed" in confirm.json()["message"]


def test_an_empty_file_or_no_file_is_a_400(alice_api):
    assert _post(alice_api, b"").status_code == 400
    assert alice_api.post("/api/imports", {}, format="multipart").status_code == 400


def test_a_file_over_the_limit_is_a_413(alice_api, monkeypatch):
    monkeypatch.setattr(services, "MAX_FILE_BYTES", 10)
    response = _post(alice_api)
    assert response.status_code == 413
    assert "larger than" in response.json()["message"]
    assert not ImportRun.objects.exists()


def test_anonymous_cannot_import(anon_api):
    assert _post(anon_api).status_code in (401, 403)
