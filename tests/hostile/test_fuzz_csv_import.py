"""Fuzzers for the import of things from CSV and JSON (imports.reader, imports.rows, imports.services).

Any bytes, as CSV or JSON: the reader and the row checks either refuse the whole file with a FileRefused naming
its row, or give each row a list of problems that each name a column (or the row) and say what is wrong; what they
keep of a row is text the database stores. Through the service, every input is checked and imported without a
crash; each row either makes its thing whole (twin, DID log entry, `created` history entry, mapping) or nothing,
and the run's counts add up to its rows.

`make fuzz` runs these with 100,000 inputs (FUZZ_EXAMPLES, like tests/hostile/test_fuzz.py); the suite a short pass.
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.validators import is_storable_text
from imports import reader, services
from imports.models import ImportedThing, ImportRun
from imports.rows import FileSeen, parse_row
from tests.conftest import make_owner
from tests.hostile.test_fuzz import fuzz, mutated
from twins.models import DidLogEntry, HistoryEntry, Twin

SAMPLE_CSV = (
    "\ufeffname;model;serial;external id;group;tag code;colour\r\n"
    'Daisy;Holstein;C-001;cow-1;Farm / Barn;;"black\nand white"\r\n'
    "'=1+1;;C-002;;;ABCD-EFGH;\r\n"
).encode()
SAMPLE_JSON = b'[{"name": "Daisy", "serial": "C-001", "weight": 540, "external_id": "cow-1"}, {"name": null}]'

CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "=cmd|' /C calc'!A0", "'=x", "'", "@", "-1", "Farm / Barn", "A/B/C", "ABCD-EFGH", '"']),
)
GRID = st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=1, max_size=5).flatmap(
    lambda rows: st.sampled_from([",", ";"]).map(
        lambda sep: "\n".join(sep.join(row) for row in [["name", "serial", "external_id", "x"], *rows]).encode(
            "utf-8", "surrogatepass"
        )
    )
)
ANY_FILE = st.one_of(
    st.binary(max_size=300), mutated(SAMPLE_CSV), mutated(SAMPLE_JSON), GRID, st.text(max_size=200).map(str.encode)
)

parser_fuzz = settings(fuzz, max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")))
service_fuzz = settings(fuzz, max_examples=int(os.environ.get("FUZZ_EXAMPLES", "30")))


def _check_parse(data: bytes, fmt: str) -> None:
    seen = FileSeen()
    try:
        for raw in reader.rows(io.BytesIO(data), fmt):
            row = parse_row(raw)
            seen.check(row)
            assert row.number >= 1
            for column, problem in row.problems:
                assert isinstance(column, str)
                assert problem and isinstance(problem, str)
            kept = [*row.fields.values(), *row.attributes, *row.attributes.values(), row.external_id, row.group]
            if not row.problems:
                assert all(is_storable_text(value) for value in kept)
                assert all(not ("\udc80" <= char <= "\udcff") for value in kept for char in value)
    except reader.FileRefused as exc:
        assert exc.message.startswith("row "), exc.message


@parser_fuzz
@given(data=ANY_FILE, fmt=st.sampled_from(["csv", "json"]))
@example(data=b"name,serial\nA,\xff\n", fmt="csv")
@example(data=b'name\n"unterminated', fmt="csv")
@example(data=b"\xef\xbb\xbf", fmt="csv")
@example(data=b"[", fmt="json")
@example(data=b'[{"name": "\\ud800"}]', fmt="json")
@example(data=b'{"a": 1} {"b": [1]} 7', fmt="json")
@example(data=b"name,\x00\nx,y\n", fmt="csv")
@example(data=b"name;group\rx;\x00", fmt="csv")  # a NUL group name passed (found by this fuzzer in CI)
def test_the_reader_and_row_checks_refuse_any_bytes_clearly(data, fmt):
    _check_parse(data, fmt)


@pytest.fixture
def importer(db):
    return make_owner("importer")


def _counts(owner) -> dict[str, int]:
    return {
        "twins": Twin.objects.filter(owner=owner).count(),
        "log": DidLogEntry.objects.filter(twin__owner=owner).count(),
        "created": HistoryEntry.objects.filter(twin__owner=owner, kind="created").count(),
        "mapped": ImportedThing.objects.filter(owner=owner).count(),
    }


@pytest.mark.django_db
@pytest.mark.needs("tags", "fleets")
@service_fuzz
@given(data=ANY_FILE, name=st.sampled_from(["things.csv", "things.json", "things"]))
@example(data=SAMPLE_CSV, name="things.csv")
@example(data=SAMPLE_JSON, name="things.json")
def test_an_import_of_any_file_checks_and_applies_whole_rows_or_none(importer, data, name):
    before = _counts(importer)
    try:
        run = services.import_upload(owner=importer, upload=io.BytesIO(data), filename=name)
    except services.ImportRefused as exc:
        assert data == b"" and exc.message
        return
    assert run.status in (ImportRun.Status.CHECKED, ImportRun.Status.REFUSED)
    if run.status == ImportRun.Status.REFUSED:
        assert run.message.startswith("row ")
        assert _counts(importer) == before
        return
    assert run.will_create + run.will_update + run.will_leave + run.check_errors == run.rows
    assert _counts(importer) == before  # the dry run writes nothing
    services.import_confirm(run=run)
    run = services.import_apply(run.pk)
    assert run.status == ImportRun.Status.DONE, run.message
    assert run.created + run.updated + run.left_alone + run.failed == run.rows
    after = _counts(importer)
    assert {key: after[key] - before[key] for key in after} == {key: run.created for key in after}
    for error in run.errors.all():
        assert error.row >= 1 and error.message
