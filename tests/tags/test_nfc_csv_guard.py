"""The tags' CSVs (the NFC provisioning file, a pre-printed batch's list) use the guard every CSV has
(core.csvsafe, review finding 1): a label or batch name a spreadsheet would run is written as text, and one that
already starts with an apostrophe keeps it (the guard looks past it), so unguard gives back exactly what was typed."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.csvsafe import unguard
from tags.services import tag_create
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LABELS = ["lid", "=HYPERLINK(1)", "'=quoted", "\t=1+1"]


def test_nfc_csv_labels_are_guarded_and_keep_their_own_apostrophe(alice, grinder):
    tags = [tag_create(twin=grinder, label=label) for label in LABELS]
    response = client_for(alice).post(
        reverse("tag-nfc", args=[grinder.slug]), {"tags": [t.pk for t in tags], "format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_code = {row["code"]: row["label"] for row in rows}
    written = [by_code[tag.display_code] for tag in tags]
    stored = [tag.label for tag in tags]  # tag_create strips the tab
    assert written == ["lid", "'=HYPERLINK(1)", "''=quoted", "'=1+1"]
    assert [unguard(cell) for cell in written] == stored


def test_a_pre_printed_batch_csv_guards_its_batch_name(tmp_path):
    path = tmp_path / "batch.csv"
    call_command(
        "make_tag_batch",
        "--count",
        "2",
        "--batch",
        "=1+1",
        "--csv",
        str(path),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    rows = list(csv.DictReader(path.open()))
    assert [row["batch"] for row in rows] == ["'=1+1", "'=1+1"]
