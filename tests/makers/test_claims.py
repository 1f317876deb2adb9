"""makers.claims.claim: the first buyer with the code gets the twin by the normal transfer; wrong and used codes
are refused, wrong ones rate-limited."""

from __future__ import annotations

import pytest

from makers.claims import CLAIM_ALPHABET, ClaimRefused, claim, new_claim_code
from makers.models import ProducedThing
from makers.production import produce
from owners.keys import owner_keys_ensure, thing_keys
from tests.conftest import api_for, client_for
from twins.identity import log_state
from twins.models import DidLogEntry, HistoryEntry, Twin
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db


@pytest.fixture
def boxed(acme_model):
    ((produced, code),) = produce(model=acme_model, serials=["C-100"], by=None)
    return produced, code


def test_claim_codes_are_four_groups_of_four_from_an_unambiguous_alphabet():
    code = new_claim_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert set("".join(groups)) <= set(CLAIM_ALPHABET) and not set("01IOL") & set(CLAIM_ALPHABET)


def test_a_claim_rotates_the_twins_log_to_the_buyers_key(boxed, bob):
    produced, code = boxed
    claim(twin=produced.twin, buyer=bob, code=code.lower().replace("-", " "))
    twin = Twin.objects.get(pk=produced.twin_id)
    assert twin.owner_id == bob.pk
    lines = list(DidLogEntry.objects.filter(twin=twin).order_by("version_number").values_list("line", flat=True))
    state = log_state(twin)  # verifies every entry
    assert len(lines) == 3
    assert state.update_keys == (thing_keys(owner_keys_ensure(owner=bob), twin.did).update_key,)
    assert HistoryEntry.objects.filter(twin=twin, kind=HistoryEntry.Kind.TRANSFER).exists()
    verified = verify_twin(twin)
    assert verified.ok, verified.problem
    produced.refresh_from_db()
    assert produced.claimed_by_id == bob.pk and produced.claimed_at is not None


def test_a_wrong_code_is_refused_and_changes_nothing(boxed, bob):
    produced, _ = boxed
    with pytest.raises(ClaimRefused, match="does not match") as refused:
        claim(twin=produced.twin, buyer=bob, code="AAAA-BBBB-CCCC-DDDD")
    assert refused.value.status == 400
    assert Twin.objects.get(pk=produced.twin_id).owner_id == produced.model.organisation.account_id
    assert DidLogEntry.objects.filter(twin_id=produced.twin_id).count() == 1


def test_wrong_codes_are_rate_limited_per_buyer_even_with_the_right_code_after(boxed, bob):
    produced, code = boxed
    for _ in range(5):
        with pytest.raises(ClaimRefused):
            claim(twin=produced.twin, buyer=bob, code="WRONG")
    with pytest.raises(ClaimRefused) as refused:
        claim(twin=produced.twin, buyer=bob, code=code)
    assert refused.value.status == 429 and refused.value.retry_after > 0
    assert "Too many wrong claim codes" in refused.value.message


def test_wrong_codes_are_rate_limited_per_thing_across_buyers(boxed, bob, carol):
    produced, code = boxed
    for _ in range(5):
        with pytest.raises(ClaimRefused):
            claim(twin=produced.twin, buyer=bob, code="WRONG")
    with pytest.raises(ClaimRefused) as refused:
        claim(twin=produced.twin, buyer=carol, code=code)
    assert refused.value.status == 429


def test_a_used_code_is_refused_and_a_second_claimer_too(boxed, bob, carol):
    produced, code = boxed
    claim(twin=produced.twin, buyer=bob, code=code)
    for buyer in (bob, carol):
        with pytest.raises(ClaimRefused, match="already been claimed") as refused:
            claim(twin=Twin.objects.get(pk=produced.twin_id), buyer=buyer, code=code)
        assert refused.value.status == 409
    assert Twin.objects.get(pk=produced.twin_id).owner_id == bob.pk


def test_a_member_of_the_organisation_may_claim_as_a_person(boxed, erin):
    produced, code = boxed
    claim(twin=produced.twin, buyer=erin, code=code)
    assert Twin.objects.get(pk=produced.twin_id).owner_id == erin.pk


def test_the_claim_api_takes_a_gs1_link_and_answers_the_twin(boxed, bob, settings):
    produced, code = boxed
    link = f"{settings.SITE_URL}/01/{produced.model.gtin}/21/C-100"
    response = api_for(bob).post("/api/claims/", {"thing": link, "code": code}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["twin"] == produced.twin.slug
    again = api_for(bob).post("/api/claims/", {"thing": produced.twin.slug, "code": code}, format="json")
    assert again.status_code == 409 and "already been claimed" in again.json()["message"]


def test_the_claim_api_answers_429_with_retry_after(boxed, bob):
    produced, _ = boxed
    api = api_for(bob)
    statuses = [
        api.post("/api/claims/", {"thing": produced.twin.slug, "code": "WRONG"}, format="json").status_code
        for _ in range(6)
    ]
    assert statuses == [400] * 5 + [429]
    last = api.post("/api/claims/", {"thing": produced.twin.slug, "code": "WRONG"}, format="json")
    assert int(last["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"thing": "nope", "code": "X"}, 404),
        ({"thing": "https://x.example/01/09506000134353/21/A", "code": "X"}, 400),
        ({"thing": "https://x.example/01/09506000134352", "code": "X"}, 400),
        ({"thing": 5, "code": "X"}, 400),
        ({"code": "X"}, 400),
    ],
)
def test_the_claim_api_refuses_bad_input_with_4xx(bob, acme_model, body, status):
    assert api_for(bob).post("/api/claims/", body, format="json").status_code == status


def test_the_claim_page_sends_a_signed_out_visitor_to_login_and_back(boxed):
    produced, _ = boxed
    url = f"/claim/01/{produced.model.gtin}/21/C-100"
    response = client_for(None).get(url)
    assert response.status_code == 302 and "next=/claim/01/" in response["Location"]


def test_the_claim_page_claims_with_the_code(boxed, bob):
    produced, code = boxed
    url = f"/claim/01/{produced.model.gtin}/21/C-100"
    client = client_for(bob)
    wrong = client.post(url, {"code": "WRONG"})
    assert wrong.status_code == 400 and b"does not match" in wrong.content
    right = client.post(url, {"code": code})
    assert right.status_code == 302 and right["Location"] == f"/things/{produced.twin.slug}/"
    assert ProducedThing.objects.get(pk=produced.pk).claimed_by_id == bob.pk


def test_the_public_page_of_an_unclaimed_thing_offers_the_claim_and_not_after(boxed, bob):
    produced, code = boxed
    path = f"/01/{produced.model.gtin}/21/C-100"
    page = client_for(None).get(path)
    assert page.status_code == 200 and b'data-testid="claim-panel"' in page.content
    claim(twin=produced.twin, buyer=bob, code=code)
    page = client_for(None).get(path)
    assert page.status_code == 200 and b'data-testid="claim-panel"' not in page.content


def test_a_produced_thing_gets_its_first_ownership_credential_at_the_claim_not_before(boxed, bob):
    """Stock held by the organisation carries no credential per item (a batch of 10,000 must fit in a request);
    the buyer's comes with the claim."""
    from credentials.models import OwnershipCredential

    produced, code = boxed
    assert not OwnershipCredential.objects.filter(twin=produced.twin).exists()
    claim(twin=produced.twin, buyer=bob, code=code)
    standing = OwnershipCredential.objects.standing().get(twin=produced.twin)
    assert standing.holder == bob
