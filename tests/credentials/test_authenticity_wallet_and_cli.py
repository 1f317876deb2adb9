"""A claimed thing's authenticity credential: listed in its owner's wallet (only theirs), downloadable, checked
valid by the verifier page and API, and offline by `python -m ssi.verify` with the organisation's DID log (and
revoked there too once the maker revokes it)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client

from credentials.authenticity_models import AuthenticityCredential
from makers.authenticity import authenticity_revoke
from makers.claims import claim
from makers.production import model_create, produce
from ssi import verify as cli
from tests.conftest import make_owner
from tests.makers.conftest import organisation_make

pytestmark = pytest.mark.django_db


def client_for(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def maker(alice):
    organisation = organisation_make(slug="grindco", name="Grind Co", admin=alice)
    return model_create(organisation=organisation, name="Burr 9", gtin="09506000134352", icon="coffee")


@pytest.fixture
def claimed(maker, bob) -> AuthenticityCredential:
    ((produced, code),) = produce(model=maker, serials=["W-1"], by=None)
    claim(twin=produced.twin, buyer=bob, code=code)
    return AuthenticityCredential.objects.get(twin=produced.twin)


def test_the_owners_wallet_lists_the_makers_credential_once_claimed_and_nobody_elses_does(maker, claimed, bob, carol):
    produce(model=maker, serials=["W-2"], by=None)
    html = client_for(bob).get("/credentials/").content.decode()
    assert 'data-testid="authenticity-credentials"' in html and "Grind Co" in html and "W-1" in html
    assert "W-2" not in html
    assert "W-1" not in client_for(carol).get("/credentials/").content.decode()


def test_only_the_owner_downloads_it(claimed, bob, carol):
    url = f"/credentials/authenticity/{claimed.pk}/credential.json"
    response = client_for(bob).get(url)
    assert response.status_code == 200 and json.loads(response.content) == claimed.data
    assert client_for(carol).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the sign-in page


def test_the_verifier_page_and_api_say_valid_and_name_the_maker(claimed):
    response = Client().post(
        "/api/credentials/verify", json.dumps({"credential": claimed.data}), content_type="application/json"
    )
    answer = response.json()
    assert answer["verdict"] == "valid", answer
    assert answer["subject"]["manufacturerName"] == "Grind Co" and answer["subject"]["serial"] == "W-1"
    html = Client().post("/verify/credential", {"document": claimed.document, "action": "check"}).content.decode()
    assert 'data-verdict="valid"' in html and '<td data-testid="made-by">Grind Co</td>' in html


def _offline(tmp_path, claimed, capsys) -> tuple[int, str]:
    organisation = claimed.twin.produced.model.organisation
    (tmp_path / "cred.json").write_text(claimed.document)
    log = Client().get(f"/orgs/{organisation.slug}/did.jsonl")
    assert log.status_code == 200
    (tmp_path / "did.jsonl").write_bytes(log.content)
    listed = Client().get(urlsplit(claimed.data["credentialStatus"]["statusListCredential"]).path)
    (tmp_path / "list.json").write_bytes(listed.content)
    code = cli.main(
        [
            str(tmp_path / "cred.json"),
            "--did-log",
            str(tmp_path / "did.jsonl"),
            "--status-list",
            str(tmp_path / "list.json"),
        ]
    )
    return code, capsys.readouterr().out


def test_python_m_ssi_verify_checks_it_offline_with_the_organisations_did_log(tmp_path, claimed, alice, capsys):
    code, out = _offline(tmp_path, claimed, capsys)
    assert code == 0 and out.startswith("OK"), out
    model = claimed.twin.produced.model
    authenticity_revoke(organisation=model.organisation, model=model, serial="W-1", reason="recalled", by=alice)
    code, out = _offline(tmp_path, claimed, capsys)
    assert code != 0 and "revoked" in out, out


def test_without_the_organisations_log_the_cli_cannot_check_it(tmp_path, claimed, capsys):
    (tmp_path / "cred.json").write_text(claimed.document)
    code = cli.main([str(tmp_path / "cred.json")])
    out = capsys.readouterr().out
    assert code != 0 and "cannot_check" in out, out


def test_a_forged_serial_is_tampered(claimed):
    forged = claimed.data
    forged["credentialSubject"]["serial"] = "W-999"
    response = Client().post(
        "/api/credentials/verify", json.dumps({"credential": forged}), content_type="application/json"
    )
    assert response.json()["verdict"] == "tampered"


def test_a_stranger_named_maker_in_the_url_gets_no_status_list(db):
    make_owner("zed")
    assert Client().get("/credentials/issuer-status/nope").status_code == 404
