"""Imports look up tag codes within the account's budget (review finding 4): a file of guessed codes must not find,
and claim, a stranger's unassigned sticker past RATE_IMPORT_TAG_CODES_PER_ACCOUNT, and the dry run must not tell
past it which guessed codes exist. The owner's own stickers still attach, and codes on the owner's own things (an
export read back) cost nothing."""

from __future__ import annotations

import random

import pytest

from imports import services
from imports.models import ImportRun
from tags.models import Tag
from tags.services import tag_create
from tests.imports.conftest import errors, run_import, upload
from twins.services import twin_create

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags", "fleets")]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _guesses(count: int, seed: int = 4) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(8)) for _ in range(count)]


def _file(codes: list[str]) -> str:
    return "name,tag_code\n" + "".join(f"x{n},{code}\n" for n, code in enumerate(codes))


def test_a_file_of_guessed_codes_claims_nothing_past_the_default_budget_and_the_dry_run_tells_nothing(bob):
    sticker = Tag.objects.create(status=Tag.Status.UNASSIGNED, batch="sheet 7")
    codes = _guesses(1200)
    codes.insert(1100, sticker.code)  # row 1,102: past the 1,000 codes an hour
    run = upload(bob, _file(codes))
    # Every row reads as an error, and the sticker's reads as the rows around it: nothing tells which code exists.
    assert (run.will_create, run.check_errors, run.tag_codes_until_row) == (0, 1201, 1001)
    found = errors(run)
    assert found[999].startswith("row 1,001, column tag_code: no unassigned pre-printed tag has the code")
    assert found[1000].startswith(
        "row 1,002, column tag_code: not looked up: an account's imports may look up 1,000 tag codes per hour"
    )
    assert found[1100].split(": ", 1)[1] == found[1101].split(": ", 1)[1] == found[1000].split(": ", 1)[1]
    assert "import this row again in " in found[1100]
    services.import_confirm(run=run)
    services.import_apply(run.pk)
    sticker.refresh_from_db()
    assert (sticker.status, sticker.twin) == (Tag.Status.UNASSIGNED, None)


def test_the_budget_is_the_accounts_across_files_and_another_account_has_its_own(alice, bob, settings):
    settings.RATE_IMPORT_TAG_CODES_PER_ACCOUNT = "3/3600"
    first = upload(bob, _file(_guesses(2, seed=1)))
    assert first.tag_codes_until_row == 3  # the budget lasted: the last row
    sticker = Tag.objects.create(status=Tag.Status.UNASSIGNED)
    second = upload(bob, _file([*_guesses(1, seed=2), sticker.code]))
    assert second.tag_codes_until_row == 2
    assert errors(second)[1].startswith("row 3, column tag_code: not looked up: an account's imports may look up 3")
    done = run_import(alice, _file([sticker.code]))
    assert done.created == 1
    sticker.refresh_from_db()
    assert sticker.twin.owner == alice


def test_the_owners_stickers_within_the_budget_attach_and_the_import_spends_no_more(alice, settings):
    settings.RATE_IMPORT_TAG_CODES_PER_ACCOUNT = "3/3600"
    stickers = [Tag.objects.create(status=Tag.Status.UNASSIGNED, batch="roll 1") for _ in range(3)]
    run = run_import(alice, _file([tag.display_code for tag in stickers]))  # the dry run spends all 3
    assert (run.status, run.created, run.failed) == (ImportRun.Status.DONE, 3, 0)
    assert Tag.objects.filter(twin__owner=alice, status=Tag.Status.ACTIVE).count() == 3


def test_the_import_looks_up_no_code_of_a_row_past_where_the_dry_run_stopped(alice, settings):
    settings.RATE_IMPORT_TAG_CODES_PER_ACCOUNT = "1/3600"
    first, second = (Tag.objects.create(status=Tag.Status.UNASSIGNED) for _ in range(2))
    run = upload(alice, _file([first.code, second.code]))
    assert (run.will_create, run.check_errors, run.tag_codes_until_row) == (1, 1, 2)
    settings.RATE_IMPORT_TAG_CODES_PER_ACCOUNT = "100/3600"  # a new budget by the time the import runs
    services.import_confirm(run=run)
    done = services.import_apply(run.pk)
    assert (done.created, done.failed) == (1, 1)
    second.refresh_from_db()
    assert second.twin is None
    assert errors(done, "apply") == [
        "row 3, column tag_code: not looked up: an account's imports may look up 100 tag codes per hour that are "
        "not on its own things, and this import reached that; import this row again later"
    ]


def test_codes_on_the_owners_own_things_cost_nothing_so_an_export_imports_back(alice, alice_client, settings):
    settings.RATE_IMPORT_TAG_CODES_PER_ACCOUNT = "1/3600"
    for index in range(4):
        tag_create(twin=twin_create(owner=alice, name=f"Cow {index}"), label="ear")
    data = b"".join(alice_client.get("/exports/things.csv").streaming_content)
    run = upload(alice, data)
    assert (run.will_leave, run.check_errors, run.tag_codes_until_row) == (4, 0, 5)
