"""Export in the import's shape: a CSV export imports back unchanged, formula cells carry the guard on the way out
and lose it on the way in, and an owner exports only their own things."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bulk.actions import action_get
from core import csvsafe
from imports import export
from tags.models import Tag
from tests.imports.conftest import run_import, upload
from twins.models import HistoryEntry, Twin
from twins.services import twin_create

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags", "fleets")]


def _download(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def test_a_csv_export_imports_back_unchanged(alice, alice_client):
    tag = Tag.objects.create(status=Tag.Status.UNASSIGNED)
    run_import(
        alice,
        "name,model,serial,external_id,group,tag code,colour,note\n"
        f'Daisy,Holstein,C-001,cow-1,Farm / Barn,{tag.code},black,"calved\nin May"\n'
        "Bella,Jersey,C-002,cow-2,,,brown,\n",
    )
    twin_create(owner=alice, name="Drill", serial="D-1", attributes={"volts": "18"})  # never imported
    data = _download(alice_client, "/exports/things.csv")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["name", "model", "serial", "external_id", "group", "tag_code", "colour", "note", "volts"]
    assert ["Daisy", "Holstein", "C-001", "cow-1", "Farm / Barn", tag.code, "black", "calved\nin May", ""] in rows
    drill = Twin.objects.get(name="Drill")
    # A slug may start with "-" (1 in 64: its alphabet is base64url): then it is guarded like any formula-looking
    # cell, and import removes the guard again (the round trip below).
    assert ["Drill", "", "D-1", csvsafe.guard(drill.slug), "", "", "", "", "18"] in rows

    history = HistoryEntry.objects.count()
    again = upload(alice, data)
    assert (again.will_create, again.will_update, again.will_leave, again.check_errors) == (0, 0, 3, 0)
    assert HistoryEntry.objects.count() == history


def test_formula_cells_are_guarded_on_export_and_round_trip(alice, alice_client):
    names = ["=cmd|' /C calc'!A0", "+1", "-5", "@SUM(A1)", "'=already quoted", "'plain"]
    for index, name in enumerate(names):
        twin_create(owner=alice, name=name, serial=f"S{index}", attributes={"note": "\tTab\r"})
    data = _download(alice_client, "/exports/things.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data)))[1:]
    assert sorted(row[0] for row in rows) == sorted(
        ["'=cmd|' /C calc'!A0", "'+1", "'-5", "'@SUM(A1)", "''=already quoted", "'plain"]
    )
    assert {row[-1] for row in rows} == {"'\tTab\r"}
    run = upload(alice, data)
    assert (run.will_leave, run.will_create, run.will_update) == (len(names), 0, 0)


def test_formula_attribute_names_are_guarded_in_the_heading_and_round_trip(alice, alice_client):
    # Attribute names travel with a thing on a sale: a seller's "=cmd|..." must not run in the buyer's spreadsheet.
    names = {"=cmd|' /C calc'!A0": "x", "'=quoted": "y", "-": "z", "plain": "w"}
    twin_create(owner=alice, name="Grinder", serial="G-1", attributes=names)
    data = _download(alice_client, "/api/exports/things.csv").decode("utf-8-sig")
    heading = next(csv.reader(io.StringIO(data)))
    assert heading[6:] == ["''=quoted", "'-", "'=cmd|' /C calc'!A0", "plain"]
    run = upload(alice, data)
    assert (run.will_leave, run.will_create, run.will_update, run.check_errors) == (1, 0, 0, 0)
    assert Twin.objects.get(owner=alice).attributes == names


def test_json_export_is_the_import_shape(alice, alice_client):
    run_import(alice, "name,serial,external_id,weight\nDaisy,C-001,cow-1,540\n")
    data = json.loads(_download(alice_client, "/api/exports/things.json"))
    assert data == [{"name": "Daisy", "model": "", "serial": "C-001", "external_id": "cow-1", "weight": "540"}]
    again = upload(alice, json.dumps(data), "things.json")
    assert (again.will_leave, again.check_errors) == (1, 0)


def test_an_export_holds_only_the_owners_things_and_follows_the_filters(alice, bob, alice_client):
    twin_create(owner=alice, name="Grinder", serial="G-1")
    twin_create(owner=alice, name="Kettle", serial="K-1")
    twin_create(owner=bob, name="Bob's drill", serial="B-1")
    text = _download(alice_client, "/api/exports/things.csv").decode("utf-8-sig")
    assert "Grinder" in text and "Kettle" in text and "Bob" not in text
    text = _download(alice_client, "/api/exports/things.csv?q=kettle").decode("utf-8-sig")
    assert "Kettle" in text and "Grinder" not in text


def test_export_needs_a_login(anon_client):
    assert anon_client.get("/api/exports/things.csv").status_code in (401, 403)
    assert anon_client.get("/exports/things.csv").status_code == 302


def test_export_csv_is_a_whole_selection_bulk_action(alice, alice_client):
    assert action_get("export-csv").label == "Export CSV"
    grinder = twin_create(owner=alice, name="Grinder")
    twin_create(owner=alice, name="Kettle")
    response = alice_client.post(
        "/bulk/act", {"action": "export-csv", "thing": [grinder.slug], "confirm": "1", "query": ""}
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Grinder" in text and "Kettle" not in text


def test_records_stream_in_chunks(alice):
    for index in range(3):
        twin_create(owner=alice, name=f"T{index}")
    records = list(export.export_records(Twin.objects.filter(owner=alice)))
    assert [record["name"] for record in records] == ["T0", "T1", "T2"]


def test_the_export_api_answers_with_the_file_whatever_accept_or_format_say(alice, alice_api):
    twin_create(owner=alice, name="Grinder")
    for response in (
        alice_api.get("/api/exports/things.csv", HTTP_ACCEPT="text/csv"),
        alice_api.get("/api/exports/things.csv?format=xml"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert "Grinder" in b"".join(response.streaming_content).decode("utf-8-sig")


def test_a_bought_things_export_shows_no_external_id_of_its_seller(alice, bob):
    from tests.conftest import client_for
    from twins.transfer import offer_accept, offer_create

    run_import(alice, "name,external_id\nLaptop,ALICE-FINANCE-LAPTOP-0042\n")
    laptop = Twin.objects.get(owner=alice, name="Laptop")
    offer_accept(offer=offer_create(twin=laptop, seller=alice, redact_kinds=[]), buyer=bob)
    for url in ("/exports/things.csv", "/exports/things.json"):
        data = _download(client_for(bob), url).decode("utf-8-sig")
        assert "Laptop" in data and "ALICE-FINANCE-LAPTOP-0042" not in data
