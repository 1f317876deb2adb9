"""The wallet's keeper and service credentials: the owner sees those she issued, the keeper or service party
those they received; each downloads as JSON, shows as a QR code when it fits, and its holder presents it to a
verifier, whose check says valid; everyone else gets a 404."""

from __future__ import annotations

import json
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from credentials import keepers
from credentials.models import AccessCredential, VerifierSession
from tests.conftest import client_for
from twins import access

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept(grinder, bob) -> AccessCredential:
    return keepers.access_credential_issue(
        twin=grinder,
        issued_by=grinder.owner,
        holder=bob,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
    )


@pytest.fixture
def serviced(grinder, carol) -> AccessCredential:
    return keepers.access_credential_issue(
        twin=grinder,
        issued_by=grinder.owner,
        holder=carol,
        role=AccessCredential.Role.SERVICE,
        capabilities=[access.READINGS_READ],
        expires_at=timezone.now() + timedelta(hours=3),
    )


def _table(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</table>", start)]


def test_the_owner_sees_the_keeper_and_service_credentials_she_issued(kept, serviced, alice):
    html = client_for(alice).get("/credentials/").content.decode()
    issued = _table(html, "access-issued")
    assert "bob" in issued and "carol" in issued and "keeper" in issued and "service" in issued
    assert f"/credentials/access/{kept.pk}/credential.json" in issued
    assert 'data-testid="access-received"' not in html


def test_the_keeper_and_the_service_party_see_what_they_received(kept, serviced, bob, carol):
    bobs = client_for(bob).get("/credentials/").content.decode()
    assert "Coffee grinder" in _table(bobs, "access-received") and "from alice" in bobs
    assert 'data-testid="access-issued"' not in bobs
    carols = _table(client_for(carol).get("/credentials/").content.decode(), "access-received")
    assert "service" in carols and "valid until" in carols


def test_a_revoked_credential_is_listed_as_revoked(kept, bob):
    keepers.access_credential_revoke(credential=kept)
    assert "revoked" in _table(client_for(bob).get("/credentials/").content.decode(), "access-received")


def test_the_json_download_is_the_credential_as_issued_for_issuer_and_holder(kept, alice, bob):
    for owner in (alice, bob):
        response = client_for(owner).get(f"/credentials/access/{kept.pk}/credential.json")
        assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
        assert response.content.decode() == kept.document


def test_the_detail_page_shows_a_qr_code_and_what_it_allows(kept, bob):
    html = client_for(bob).get(f"/credentials/access/{kept.pk}/").content.decode()
    assert 'data-testid="credential-qr"' in html and "<svg" in html and "Valid" in html
    assert "Add readings" in html and f"/credentials/access/{kept.pk}/present/" in html


def test_anyone_else_gets_404_for_it(kept, carol):
    client = client_for(carol)
    for url in (f"/credentials/access/{kept.pk}/", f"/credentials/access/{kept.pk}/credential.json"):
        assert client.get(url).status_code == 404
    assert client.post(f"/credentials/access/{kept.pk}/present/", {"challenge": "c", "domain": "d"}).status_code == 404


def test_the_issuer_cannot_present_what_she_gave_away(kept, alice):
    assert client_for(alice).get(f"/credentials/access/{kept.pk}/present/").status_code == 404


def test_the_holder_presents_it_and_the_verifier_says_valid(kept, bob):
    verifier = Client()
    location = verifier.post("/verify/credential", {"action": "start"})["Location"]
    session = VerifierSession.objects.get()
    html = (
        client_for(bob)
        .post(f"/credentials/access/{kept.pk}/present/", {"challenge": session.challenge, "domain": session.domain})
        .content.decode()
    )
    start = html.index('data-testid="presentation"')
    vp = json.loads(unescape(html[html.index(">", start) + 1 : html.index("</textarea>", start)]))
    assert vp["verifiableCredential"][0]["type"] == ["VerifiableCredential", "KeeperCredential"]
    verdict = verifier.post(location, {"document": json.dumps(vp)}).content.decode()
    assert 'data-verdict="valid"' in verdict


def test_a_present_without_challenge_is_a_400_that_says_what_is_missing(kept, bob):
    response = client_for(bob).post(f"/credentials/access/{kept.pk}/present/", {"challenge": "", "domain": "d"})
    assert response.status_code == 400 and "required" in response.content.decode()
