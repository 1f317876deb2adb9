"""The label printer's CSV guards serials a spreadsheet would run as formulas (review finding 1): GS1 AI 21 allows
serials starting with = + - , so "=1+1" is written as text ("'=1+1"), as every CSV the app writes is."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import api_for

pytestmark = pytest.mark.django_db

GTIN = "09506000134352"


def test_a_formula_looking_serial_is_guarded_in_the_production_csv(acme_model, erin):
    response = api_for(erin).post(
        f"/api/orgs/acme/models/{GTIN}/production/",
        {"serials": ["=1+1", "-2", "P3"]},
        format="json",
        HTTP_ACCEPT="text/csv",
    )
    assert response.status_code == 201, response.content
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[0] for row in rows] == ["serial", "'=1+1", "'-2", "P3"]
