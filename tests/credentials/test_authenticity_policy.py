"""The shop's policy "made by manufacturer X, model in a list" uses authenticity credentials: an ownership
credential is accepted when the thing holds a standing authenticity credential of an accepted maker, for an
accepted model as the maker names it; the demo's discount works with the demo manufacturer, Acme Grinders."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from credentials.models import VerifierPolicy
from makers.authenticity import authenticity_revoke
from makers.claims import claim
from makers.demo import DEMO_SLUG
from makers.models import Membership, Organisation
from makers.production import produce
from ssi import credentials as vc
from tests.credentials.helpers import standing
from tests.makers.conftest import organisation_make
from twins import services
from twins.identity import agent_key, log_state

pytestmark = pytest.mark.django_db


def verdict(document, policy: VerifierPolicy) -> dict:
    response = Client().post(
        "/api/credentials/verify",
        json.dumps({"credential": document, "policy": policy.public_id}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def maker(alice):
    from makers.production import model_create

    organisation = organisation_make(slug="grindco", name="Grind Co", admin=alice)
    return model_create(organisation=organisation, name="Burr 9", gtin="09506000134352", icon="coffee")


def signing_time(twin):
    """Not before the DID log's latest version (the claim rotated the thing's key a moment ago)."""
    return max(timezone.now(), log_state(twin).latest.time)


def bought(model, buyer, serial: str):
    ((produced, code),) = produce(model=model, serials=[serial], by=None)
    claim(twin=produced.twin, buyer=buyer, code=code)
    produced.twin.refresh_from_db()
    return produced.twin


def test_an_owner_of_a_thing_its_maker_vouches_for_is_accepted(maker, bob, carol):
    twin = bought(maker, bob, "S-1")
    shop = VerifierPolicy.objects.create(
        owner=carol, name="Discount", accepted_models=["Burr 9"], manufacturers=[maker.organisation.did]
    )
    answer = verdict(standing(twin).data, shop)
    assert answer["verdict"] == "valid", answer


def test_a_renamed_model_does_not_fool_the_policy_but_the_makers_model_decides(maker, bob, carol):
    twin = bought(maker, bob, "S-2")
    shop = VerifierPolicy.objects.create(
        owner=carol, name="Other model", accepted_models=["Burr 10"], manufacturers=[maker.organisation.did]
    )
    # The owner renames it a Burr 10 and the thing signs that: the maker's word, Burr 9, still decides.
    services.twin_update(twin=twin, model_name="Burr 10")
    unsigned = vc.credential(
        issuer=twin.did,
        types=["OwnershipCredential"],
        subject={"id": standing(twin).holder_did, "owns": twin.did, "model": "Burr 10"},
    )
    signed = vc.issue(unsigned, agent_key(twin), verification_method=f"{twin.did}#key-1", created=signing_time(twin))
    answer = verdict(signed, shop)
    assert answer["verdict"] == "untrusted_issuer" and "Burr 9" in answer["reason"], answer


def test_a_thing_made_by_another_maker_or_by_nobody_is_refused(maker, alice, bob, carol):
    other = organisation_make(slug="copyco", name="Copy Co", admin=carol)
    shop = VerifierPolicy.objects.create(
        owner=carol, name="Only Grind Co", accepted_models=["Burr 9"], manufacturers=[maker.organisation.did]
    )
    homemade = services.twin_create(owner=bob, name="My grinder", model_name="Burr 9", serial="H-1")
    answer = verdict(standing(homemade).data, shop)
    assert answer["verdict"] == "untrusted_issuer" and "No manufacturer" in answer["reason"], answer
    from makers.production import model_create

    copy = model_create(organisation=other, name="Burr 9", gtin="09506000134369", icon="coffee")
    knockoff = bought(copy, bob, "S-3")
    assert verdict(standing(knockoff).data, shop)["verdict"] == "untrusted_issuer"


def test_a_revoked_authenticity_credential_loses_the_discount(maker, alice, bob, carol):
    twin = bought(maker, bob, "S-4")
    shop = VerifierPolicy.objects.create(
        owner=carol, name="D", accepted_models=[], manufacturers=[maker.organisation.did]
    )
    assert verdict(standing(twin).data, shop)["verdict"] == "valid"
    authenticity_revoke(organisation=maker.organisation, model=maker, serial="S-4", reason="recalled", by=alice)
    answer = verdict(standing(twin).data, shop)
    assert answer["verdict"] == "untrusted_issuer" and "revoked" in answer["reason"], answer


def test_the_demo_discount_accepts_a_grinder_acme_grinders_made(db, bob):
    call_command("load_demo", stdout=io.StringIO())
    acme = Organisation.objects.get(slug=DEMO_SLUG)
    policy = VerifierPolicy.objects.get(name="Acme grinder discount")
    assert policy.manufacturers == [acme.did]
    assert Membership.objects.filter(organisation=acme, owner=policy.owner).exists()
    twin = bought(acme.product_models.get(), bob, "DEMO-0100")
    assert verdict(standing(twin).data, policy)["verdict"] == "valid"
    # The demo's own grinder (no maker behind it) is not an Acme grinder.
    mine = policy.owner.twins.filter(icon="coffee").exclude(produced__isnull=False).first()
    assert verdict(standing(mine).data, policy)["verdict"] == "untrusted_issuer"


def test_the_policies_page_takes_manufacturers_and_refuses_what_is_not_a_did(maker, carol):
    client = Client()
    client.force_login(carol)
    did = maker.organisation.did
    response = client.post("/verify/policies/", {"name": "Grinders", "accepted_models": "Burr 9", "manufacturers": did})
    assert response.status_code == 302
    policy = VerifierPolicy.objects.get(owner=carol)
    assert policy.manufacturers == [did]
    page = client.get(f"/verify/policies/{policy.public_id}/").content.decode()
    assert did in page
    refused = client.post(
        f"/verify/policies/{policy.public_id}/",
        {"name": "Grinders", "accepted_models": "Burr 9", "manufacturers": "Acme Grinders"},
    )
    assert refused.status_code == 400 and "is not a DID" in refused.content.decode()
    policy.refresh_from_db()
    assert policy.manufacturers == [did]
