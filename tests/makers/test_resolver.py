"""The GS1 Digital Link resolver: /01/<gtin>[/21/<serial>], link types, RFC 9264 link sets, the description file."""

from __future__ import annotations

import pytest

from makers.production import produce
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

GTIN = "09506000134352"
LINKSET = "application/linkset+json"


@pytest.fixture
def boxed(acme_model):
    acme_model.links = {"gs1:instructions": "https://acme.example/manual", "gs1:support": "https://acme.example/help"}
    acme_model.save()
    ((produced, _code),) = produce(model=acme_model, serials=["R1"], by=None)
    return produced


def _assert_rfc9264(body, anchor):
    assert set(body) == {"linkset"} and isinstance(body["linkset"], list) and len(body["linkset"]) == 1
    context = body["linkset"][0]
    assert context["anchor"] == anchor
    for relation, targets in context.items():
        if relation == "anchor":
            continue
        assert relation.startswith("https://gs1.org/voc/")
        assert isinstance(targets, list) and targets
        assert all(isinstance(t, dict) and t["href"].startswith(("http://", "https://")) for t in targets)
    return context


def test_a_serial_link_opens_the_things_public_page_as_a_tag_scan_does(boxed):
    response = client_for(None).get(f"/01/{GTIN}/21/R1")
    assert response.status_code == 200
    assert b"Claim this thing" in response.content
    assert 'rel="linkset"' in response["Link"]


def test_the_owner_gets_their_own_page_through_the_serial_link(boxed, bob):
    from makers.claims import claim
    from makers.models import ProducedThing

    produced = ProducedThing.objects.get(pk=boxed.pk)
    # The owner's page is the tags app's one-box form, as for a scan of the tag.
    from makers.claims import claim_code_hash

    code = "ABCD-EFGH-JKMN-PQRS"
    ProducedThing.objects.filter(pk=produced.pk).update(claim_code_hash=claim_code_hash(code))
    claim(twin=produced.twin, buyer=bob, code=code)
    response = client_for(bob).get(f"/01/{GTIN}/21/R1")
    assert response.status_code == 200 and b'data-testid="one-box"' in response.content


def test_a_model_link_redirects_to_the_model_page(boxed):
    response = client_for(None).get(f"/01/{GTIN}")
    assert response.status_code == 307 and response["Location"] == f"/models/{GTIN}/"


@pytest.mark.parametrize("short", ["9506000134352"])
def test_a_gtin_13_redirects_to_the_14_digit_form(boxed, short):
    response = client_for(None).get(f"/01/{short}/21/R1?linkType=gs1:pip")
    assert response.status_code == 301 and response["Location"] == f"/01/{GTIN}/21/R1?linkType=gs1:pip"


def test_a_bad_check_digit_is_a_400_that_says_so(boxed):
    response = client_for(None).get("/01/09506000134353/21/R1", HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "check digit" in response.json()["message"]


@pytest.mark.parametrize("path", [f"/01/{GTIN}/21/NOPE", "/01/00000096385074", "/01/00000096385074/21/R1"])
def test_an_unknown_serial_or_gtin_is_a_404(boxed, path):
    assert client_for(None).get(path).status_code == 404


@pytest.mark.parametrize(
    ("link_type", "target"),
    [
        ("gs1:pip", f"/models/{GTIN}/"),
        ("gs1:registerProduct", f"/claim/01/{GTIN}/21/R1"),
        ("gs1:instructions", "https://acme.example/manual"),
        ("gs1:support", "https://acme.example/help"),
        ("gs1:recallStatus", f"/models/{GTIN}/recalls"),
        ("https://gs1.org/voc/pip", f"/models/{GTIN}/"),
    ],
)
def test_each_link_type_redirects_to_its_link(boxed, settings, link_type, target):
    response = client_for(None).get(f"/01/{GTIN}/21/R1", {"linkType": link_type})
    assert response.status_code == 307
    location = response["Location"].removeprefix(settings.SITE_URL)
    assert location.split("?")[0] == target.split("?")[0] or location.startswith(target)
    assert 'rel="linkset"' in response["Link"]


def test_the_recall_status_of_a_serial_names_the_serial(boxed):
    response = client_for(None).get(f"/01/{GTIN}/21/R1", {"linkType": "gs1:recallStatus"})
    assert response.status_code == 307 and "serial=R1" in response["Location"]


def test_the_default_link_type_is_the_things_page(boxed):
    response = client_for(None).get(f"/01/{GTIN}/21/R1", {"linkType": "gs1:defaultLink"})
    assert response.status_code == 200 and b"Claim this thing" in response.content


def test_an_absent_link_type_is_a_404_listing_the_available_ones(boxed):
    response = client_for(None).get(
        f"/01/{GTIN}/21/R1", {"linkType": "gs1:nutritionalInfo"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 404
    body = response.json()
    assert "gs1:pip" in body["message"] and "gs1:registerProduct" in body["extra"]["available"]


@pytest.mark.parametrize("how", ["all", "linkset", "accept"])
def test_the_linkset_is_rfc_9264_json_with_its_media_type(boxed, settings, how):
    client = client_for(None)
    url = f"/01/{GTIN}/21/R1"
    if how == "accept":
        response = client.get(url, HTTP_ACCEPT=LINKSET)
    else:
        response = client.get(url, {"linkType": how})
    assert response.status_code == 200
    assert response["Content-Type"].startswith(LINKSET)
    assert "json-ld#context" in response["Link"]
    context = _assert_rfc9264(response.json(), settings.SITE_URL + url)
    for link_type in ("pip", "defaultLink", "registerProduct", "recallStatus", "instructions", "support"):
        assert f"https://gs1.org/voc/{link_type}" in context


def test_the_model_linkset_has_no_register_product(boxed, settings):
    response = client_for(None).get(f"/01/{GTIN}", HTTP_ACCEPT=LINKSET)
    context = _assert_rfc9264(response.json(), f"{settings.SITE_URL}/01/{GTIN}")
    assert "https://gs1.org/voc/registerProduct" not in context
    assert context["https://gs1.org/voc/pip"][0]["href"] == f"{settings.SITE_URL}/models/{GTIN}/"


def test_the_well_known_description_names_the_resolver_root_and_keys(settings):
    response = client_for(None).get("/.well-known/gs1resolver")
    assert response.status_code == 200
    body = response.json()
    assert body["resolverRoot"] == settings.SITE_URL and body["supportedPrimaryKeys"] == ["01"]
    assert body["supportedLinkType"] == [{"namespace": "https://gs1.org/voc/", "prefix": "gs1:"}]


def test_labels_of_a_produced_thing_can_carry_its_gs1_digital_link(boxed, settings):
    from makers.claims import claim, claim_code_hash
    from makers.models import ProducedThing
    from owners.models import Owner

    owner = Owner.objects.create(username="buyer")
    produced = ProducedThing.objects.get(pk=boxed.pk)
    ProducedThing.objects.filter(pk=produced.pk).update(claim_code_hash=claim_code_hash("X"))
    claim(twin=produced.twin, buyer=owner, code="X")
    client = client_for(owner)
    page = client.get(f"/things/{produced.twin.slug}/tags/labels/", {"link": "gs1"})
    assert page.status_code == 200
    assert f"{settings.SITE_URL}/01/{GTIN}/21/R1".encode() in page.content
    tag = produced.twin.tags.get()
    svg = client.get(f"/things/{produced.twin.slug}/tags/{tag.pk}/qr.svg", {"link": "gs1"})
    plain = client.get(f"/things/{produced.twin.slug}/tags/{tag.pk}/qr.svg")
    assert svg.status_code == 200 and svg.content != plain.content
