"""The import pages: upload, dry-run report with paginated errors, confirm, progress and result."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import ImportRun
from twins.models import Twin

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags", "fleets")]


def _upload(client, data: bytes):
    return client.post("/imports/", {"file": SimpleUploadedFile("herd.csv", data, "text/csv")})


def test_upload_shows_the_dry_run_then_confirm_imports(alice, alice_client, django_capture_on_commit_callbacks):
    assert alice_client.get("/imports/").status_code == 200
    response = _upload(alice_client, b"name,serial\nDaisy,C-001\n,C-002\n")
    assert response.status_code == 302
    page = alice_client.get(response.url).content.decode()
    assert "1 to create" in page and "1 with errors" in page
    assert "row 3, column name: empty; every thing needs a name" in page
    assert not Twin.objects.filter(owner=alice).exists()
    run = ImportRun.objects.get(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/imports/{run.pk}/confirm").status_code == 302
    page = alice_client.get(f"/imports/{run.pk}/").content.decode()
    assert "2 of 2 rows: 1 created, 0 updated, 0 unchanged, 1 failed." in page
    assert Twin.objects.get(owner=alice).name == "Daisy"


def test_errors_are_paginated(alice, alice_client):
    data = b"name,serial\n" + b"".join(b",S%d\n" % n for n in range(120))
    response = _upload(alice_client, data)
    page = alice_client.get(response.url).content.decode()
    assert len(re.findall(r"column name: empty", page)) == 50
    assert "Page 1 of 3" in page
    last = alice_client.get(response.url + "?page=3").content.decode()
    assert "row 121, column name" in last


def test_a_bad_upload_is_a_400_on_the_page(alice_client):
    response = _upload(alice_client, b"")
    assert response.status_code == 400
    assert "file is empty" in response.content.decode()


def test_someone_elses_import_page_is_a_404(alice_client, carol_client):
    response = _upload(alice_client, b"name\nDaisy\n")
    assert carol_client.get(response.url).status_code == 404
    run = ImportRun.objects.get()
    assert carol_client.post(f"/imports/{run.pk}/confirm").status_code == 404


def test_the_cards_page_links_to_import_and_to_export_what_it_shows(alice_client):
    page = alice_client.get("/things/?q=drill").content.decode()
    assert 'href="/imports/"' in page
    assert 'href="/exports/things.csv?q=drill"' in page
