"""Product models and production: members may, anyone else gets a 404; bad input is a 4xx naming the problem."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from makers.models import ProducedThing, ProductDocument, ProductModel
from makers.tokens import organisation_token_create
from tests.conftest import api_for, client_for
from twins.models import Twin

pytestmark = pytest.mark.django_db

GTIN = "09506000134352"
PRIVATE_PAGES = [
    "/orgs/acme/models/",
    f"/orgs/acme/models/{GTIN}/",
    f"/orgs/acme/models/{GTIN}/production/",
]


@pytest.mark.parametrize("url", PRIVATE_PAGES)
def test_a_non_member_gets_404_on_production_pages(acme_model, carol, url):
    assert client_for(carol).get(url).status_code == 404


@pytest.mark.parametrize("url", PRIVATE_PAGES)
def test_a_member_gets_the_production_pages(acme_model, erin, url):
    assert client_for(erin).get(url).status_code == 200


def test_a_non_member_cannot_produce_through_the_page_or_the_api(acme_model, carol):
    page = client_for(carol).post(f"/orgs/acme/models/{GTIN}/production/", {"serials": "X1"})
    api = api_for(carol).post(f"/api/orgs/acme/models/{GTIN}/production/", {"serials": ["X1"]}, format="json")
    assert (page.status_code, api.status_code) == (404, 404)
    assert not Twin.objects.exists()


@pytest.mark.parametrize("url", ["/api/orgs/acme/models/", f"/api/orgs/acme/models/{GTIN}/"])
def test_a_non_member_gets_404_on_the_model_apis(acme_model, carol, url):
    assert api_for(carol).get(url).status_code == 404


def test_the_production_api_answers_slugs_dids_tag_urls_and_claim_codes(acme_model, erin, settings):
    response = api_for(erin).post(f"/api/orgs/acme/models/{GTIN}/production/", {"serials": ["P1", "P2"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == 2
    first = body["things"][0]
    assert first["serial"] == "P1" and first["did"].startswith("did:webvh:")
    assert first["tag_url"].startswith(f"{settings.SITE_URL}/t/")
    assert first["digital_link"] == f"{settings.SITE_URL}/01/{GTIN}/21/P1"
    assert len(first["claim_code"]) == 19
    assert Twin.objects.get(slug=first["twin"]).serial == "P1"


def test_the_production_api_answers_csv_for_the_label_printer_with_an_org_token(acme_model, dora):
    token, _ = organisation_token_create(organisation=acme_model.organisation, created_by=dora)
    client = api_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(
        f"/api/orgs/acme/models/{GTIN}/production/",
        {"serials": ["C1", "C2", "C3"]},
        format="json",
        HTTP_ACCEPT="text/csv",
    )
    assert response.status_code == 201
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0] == "serial,claim_code,gs1_digital_link,tag_url,twin,did"
    assert [line.split(",")[0] for line in lines[1:]] == ["C1", "C2", "C3"]
    assert ProducedThing.objects.filter(batch__created_by__isnull=True).count() == 3


def test_duplicate_serials_are_a_400_naming_them_and_nothing_is_written(acme_model, erin):
    api = api_for(erin)
    url = f"/api/orgs/acme/models/{GTIN}/production/"
    assert api.post(url, {"serials": ["D1"]}, format="json").status_code == 201
    response = api.post(url, {"serials": ["D2", "D1", "D3", "D3"]}, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["duplicates"] == ["D3"]
    response = api.post(url, {"serials": ["D2", "D1"]}, format="json")
    assert response.status_code == 400 and response.json()["extra"]["duplicates"] == ["D1"]
    assert Twin.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"serials": []}, {"serials": "S1"}, {"serials": ["a b"]}, {"serials": ["x" * 21]}, {"serials": [1]}, {"x": 1}],
)
def test_bad_production_input_is_a_400(acme_model, erin, body):
    response = api_for(erin).post(f"/api/orgs/acme/models/{GTIN}/production/", body, format="json")
    assert response.status_code == 400 and response.json()["message"]
    assert not Twin.objects.exists()


def test_a_member_creates_a_model_with_a_gtin_13_kept_as_gtin_14(acme, erin):
    response = api_for(erin).post(
        "/api/orgs/acme/models/",
        {
            "name": "Kettle",
            "gtin": "4006381333931",
            "reading_kinds": [{"kind": "temperature", "unit": "°C"}],
            "links": {"gs1:instructions": "https://acme.example/kettle.pdf"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["gtin"] == "04006381333931"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "K", "gtin": "4006381333932"}, "check digit"),
        ({"name": "K", "gtin": "12345"}, "8, 12, 13 or 14"),
        ({"name": "K", "gtin": "4006381333931", "links": {"gs1:pip": "https://x.example"}}, "link type"),
        ({"name": "K", "gtin": "4006381333931", "links": {"gs1:support": "http://x.example"}}, "https"),
        ({"name": "K", "gtin": "4006381333931", "icon": "rocket"}, "icon"),
        ({"name": "K", "gtin": GTIN}, "already registered"),
    ],
)
def test_bad_model_input_is_a_400_saying_what_is_wrong(acme_model, erin, body, field):
    response = api_for(erin).post("/api/orgs/acme/models/", body, format="json")
    assert response.status_code == 400
    assert field in str(response.json())


def test_a_member_patches_a_model(acme_model, erin):
    response = api_for(erin).patch(f"/api/orgs/acme/models/{GTIN}/", {"description": "Grinds."}, format="json")
    assert response.status_code == 200 and ProductModel.objects.get().description == "Grinds."


def test_the_model_page_is_public_with_maker_documents_and_links(acme_model, erin):
    acme_model.links = {"gs1:support": "https://acme.example/help"}
    acme_model.save()
    pdf = SimpleUploadedFile("manual.pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj<<>>endobj\n%%EOF\n", "application/pdf")
    upload = client_for(erin).post(
        f"/orgs/acme/models/{GTIN}/documents/", {"kind": "manual", "title": "Manual", "file": pdf}
    )
    assert upload.status_code == 302
    page = client_for(None).get(f"/models/{GTIN}/")
    assert page.status_code == 200
    assert b'href="/orgs/acme/"' in page.content and b"Manual" in page.content
    assert b"https://acme.example/help" in page.content
    document = ProductDocument.objects.get()
    served = client_for(None).get(f"/models/{GTIN}/documents/{document.pk}")
    assert served.status_code == 200 and served["Content-Type"] == "application/pdf"


def test_a_document_that_is_not_a_pdf_is_refused(acme_model, erin):
    fake = SimpleUploadedFile("manual.pdf", b"<html>not a pdf</html>", "application/pdf")
    response = client_for(erin).post(
        f"/orgs/acme/models/{GTIN}/documents/", {"kind": "manual", "title": "M", "file": fake}
    )
    assert response.status_code == 400 and b"not a PDF" in response.content
    assert not ProductDocument.objects.exists()


def test_the_production_page_offers_the_csv_once(acme_model, erin):
    client = client_for(erin)
    response = client.post(f"/orgs/acme/models/{GTIN}/production/", {"prefix": "R", "start": 1, "end": 3, "width": 3})
    assert response.status_code == 200 and b"R001" in response.content
    ticket = response.context["ticket"]
    url = f"/orgs/acme/models/{GTIN}/production/{ticket}.csv"
    first = client.post(url)
    assert first.status_code == 200 and b"R003" in first.content
    assert client.post(url).status_code == 410
    assert client_for(None).post(url).status_code == 302
