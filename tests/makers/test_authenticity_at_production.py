"""Production issues each thing its maker's authenticity credential, signed by the organisation's did:webvh DID,
in the batch's own transaction (bulk and single), and only an admin of the maker can revoke one."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.http import Http404

from credentials.authenticity_models import AuthenticityCredential, IssuerStatusList
from credentials.verification import verify_document
from makers.access import NotAllowed
from makers.authenticity import authenticity_revoke
from makers.orgs import organisation_keys_rotate
from makers.production import ProductionRefused, produce
from ssi import credentials as vc
from ssi import statuslist

pytestmark = pytest.mark.django_db


def test_a_batch_gets_one_authenticity_credential_per_serial_each_on_its_own_bit(acme_model, dora):
    rows = produce(model=acme_model, serials=[f"AU{i:04d}" for i in range(300)], by=dora)
    credentials = {c.twin_id: c for c in AuthenticityCredential.objects.all()}
    assert len(credentials) == 300
    assert len({(c.status_list_id, c.status_index) for c in credentials.values()}) == 300
    produced, _ = rows[7]
    credential = credentials[produced.twin_id]
    subject = credential.data["credentialSubject"]
    assert credential.data["issuer"] == acme_model.organisation.did
    assert "AuthenticityCredential" in credential.data["type"]
    assert subject == {
        "id": produced.twin.did,
        "manufacturer": acme_model.organisation.did,
        "manufacturerName": "Acme Grinders",
        "model": "Grindmaster 3000",
        "serial": "AU0007",
        "gtin": "09506000134352",
        "produced": vc.format_time(produced.twin.created_at),
    }


def test_a_single_produced_thing_verifies_as_made_by_the_organisation(acme_model):
    ((produced, _),) = produce(model=acme_model, serials=["ONE-1"], by=None)
    outcome = verify_document(AuthenticityCredential.objects.get(twin=produced.twin).data)
    assert outcome.verdict == "valid", outcome
    assert outcome.issuer == acme_model.organisation.did
    assert outcome.subject["serial"] == "ONE-1" and outcome.subject["manufacturerName"] == "Acme Grinders"


def test_a_refused_batch_leaves_no_credential_behind(acme_model):
    produce(model=acme_model, serials=["DUP-1"], by=None)
    with pytest.raises(ProductionRefused):
        produce(model=acme_model, serials=["NEW-1", "DUP-1"], by=None)
    assert list(AuthenticityCredential.objects.values_list("serial", flat=True)) == ["DUP-1"]


def test_the_issuers_status_list_is_signed_by_the_organisation_and_serves_with_an_etag(acme_model, client):
    produce(model=acme_model, serials=["SL-1"], by=None)
    status_list = IssuerStatusList.objects.get()
    url = AuthenticityCredential.objects.get().data["credentialStatus"]["statusListCredential"]
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    assert response["ETag"] == status_list.etag
    document = response.json()
    assert document["issuer"] == acme_model.organisation.did
    again = client.get(urlsplit(url).path, HTTP_IF_NONE_MATCH=status_list.etag)
    assert again.status_code == 304


def test_an_admin_revokes_a_counterfeit_serial_and_the_verifier_says_revoked(acme_model, dora):
    ((produced, _),) = produce(model=acme_model, serials=["FAKE-1"], by=None)
    credential = authenticity_revoke(
        organisation=acme_model.organisation, model=acme_model, serial="FAKE-1", reason="counterfeit", by=dora
    )
    assert credential.revoked_reason == "counterfeit"
    status_list = IssuerStatusList.objects.get()
    assert statuslist.Bitstring.from_bytes(bytes(status_list.bits)).test(credential.status_index)
    outcome = verify_document(credential.data)
    assert outcome.verdict == "revoked", outcome
    history = produced.twin.history.order_by("-seq").first()
    assert history.kind == "credential" and history.entry["content"]["reason"] == "counterfeit"


def test_a_member_cannot_revoke_and_a_stranger_sees_no_organisation(acme_model, erin, bob):
    produce(model=acme_model, serials=["R-1"], by=None)
    with pytest.raises(NotAllowed):
        authenticity_revoke(organisation=acme_model.organisation, model=acme_model, serial="R-1", reason="x", by=erin)
    with pytest.raises(Http404):
        authenticity_revoke(organisation=acme_model.organisation, model=acme_model, serial="R-1", reason="x", by=bob)
    assert AuthenticityCredential.objects.standing().count() == 1


def test_credentials_signed_before_a_key_rotation_still_verify(acme_model, dora):
    produce(model=acme_model, serials=["ROT-1"], by=None)
    organisation_keys_rotate(organisation=acme_model.organisation, by=dora)
    produce(model=acme_model, serials=["ROT-2"], by=None)
    for credential in AuthenticityCredential.objects.all():
        assert verify_document(credential.data).verdict == "valid"


@pytest.mark.parametrize(
    "state",
    [
        {"leaving_to": "https://elsewhere.example"},
        {"moved_to": "https://elsewhere.example", "leaving_to": "https://elsewhere.example"},
        {"deactivated_at": "now"},
    ],
    ids=["leaving", "moved", "deactivated"],
)
def test_a_maker_revokes_a_serial_whatever_the_thing_is_doing_and_learns_nothing_of_it(acme_model, dora, state):
    from django.utils import timezone

    from twins.models import Twin

    ((produced, _),) = produce(model=acme_model, serials=["GONE-1"], by=None)
    fields = {key: timezone.now() if value == "now" else value for key, value in state.items()}
    Twin.objects.filter(pk=produced.twin_id).update(**fields)
    entries = produced.twin.history.count()
    credential = authenticity_revoke(
        organisation=acme_model.organisation, model=acme_model, serial="GONE-1", reason="counterfeit", by=dora
    )
    assert credential.revoked_at is not None
    status_list = IssuerStatusList.objects.get()
    assert statuslist.Bitstring.from_bytes(bytes(status_list.bits)).test(credential.status_index)
    assert verify_document(credential.data).verdict == "revoked"
    # Nothing is appended to a history that is closed here (the maker is not told why).
    assert produced.twin.history.count() == entries
