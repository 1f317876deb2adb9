"""The owner's wallet: only their credentials, JSON download, QR, presenting; the thing's panel and the nav link."""

from __future__ import annotations

import io
import json
from html import unescape

import pytest
from django.core.management import call_command
from django.test import Client

from credentials.models import OwnershipCredential, VerifierPolicy, VerifierSession
from owners.keys import owner_register_self_held
from ssi.keys import SigningKey
from ssi.webvh import next_key_hash
from tests.conftest import client_for
from tests.credentials.helpers import standing

pytestmark = pytest.mark.django_db


def _presentation_in(html: str) -> dict:
    start = html.index('data-testid="presentation"')
    return json.loads(unescape(html[html.index(">", start) + 1 : html.index("</textarea>", start)]))


def test_wallet_lists_only_the_owners_credentials(grinder, alice, carol):
    assert "Coffee grinder" in client_for(alice).get("/credentials/").content.decode()
    assert "Coffee grinder" not in client_for(carol).get("/credentials/").content.decode()


def test_another_owner_gets_404_for_a_credential(grinder, carol):
    credential = standing(grinder)
    client = client_for(carol)
    for url in (f"/credentials/{credential.pk}/", f"/credentials/{credential.pk}/credential.json"):
        assert client.get(url).status_code == 404
    assert client.post(f"/credentials/{credential.pk}/present/", {"challenge": "c", "domain": "d"}).status_code == 404


def test_anonymous_is_sent_to_log_in(grinder):
    response = Client().get("/credentials/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_json_download_is_the_credential_as_issued(grinder, alice):
    credential = standing(grinder)
    response = client_for(alice).get(f"/credentials/{credential.pk}/credential.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode() == credential.document


def test_detail_shows_status_and_a_qr_code_when_it_fits(grinder, alice):
    html = client_for(alice).get(f"/credentials/{standing(grinder).pk}/").content.decode()
    assert "Valid" in html and 'data-testid="credential-qr"' in html and "<svg" in html


def test_present_page_signs_a_presentation_the_verifier_accepts(grinder, alice):
    credential = standing(grinder)
    client = client_for(alice)
    started = Client()
    location = started.post("/verify/credential", {"action": "start"})["Location"]
    session = VerifierSession.objects.get()
    html = client.post(
        f"/credentials/{credential.pk}/present/", {"challenge": session.challenge, "domain": session.domain}
    ).content.decode()
    vp = _presentation_in(html)
    verdict = started.post(location, {"document": json.dumps(vp)}).content.decode()
    assert 'data-verdict="valid"' in verdict


def test_a_self_held_key_owner_gets_the_unsigned_presentation_and_an_explanation(grinder, alice):
    current, upcoming = SigningKey.generate(), SigningKey.generate()
    owner_register_self_held(owner=alice, public_key=current.multibase, next_hash=next_key_hash(upcoming.multibase))
    html = (
        client_for(alice)
        .post(f"/credentials/{standing(grinder).pk}/present/", {"challenge": "c", "domain": "d"})
        .content.decode()
    )
    assert 'data-testid="self-held"' in html and "ssi.sign" in html
    vp = _presentation_in(html)
    assert vp["type"] == ["VerifiablePresentation"] and "proof" not in vp


def test_private_page_has_a_credentials_panel_and_the_nav_a_link(grinder, alice):
    html = client_for(alice).get(f"/things/{grinder.slug}/").content.decode()
    assert 'data-testid="credentials-panel"' in html and "/credentials/" in html
    assert '<a href="/credentials/">Credentials</a>' in html


def test_load_demo_adds_the_acme_grinder_discount_policy(db):
    call_command("load_demo", stdout=io.StringIO())
    policy = VerifierPolicy.objects.get(name="Acme grinder discount")
    # The demo shop accepts grinders of the demo manufacturer (tests/credentials/test_authenticity_policy.py).
    assert policy.accepted_models == ["Acme Burr Grinder"] and len(policy.manufacturers) == 1
    assert OwnershipCredential.objects.filter(holder=policy.owner).count() >= 3


def test_policies_page_creates_and_edits_and_a_stranger_gets_404(alice, carol):
    client = client_for(alice)
    assert client.post("/verify/policies/", {"name": "Grinders", "accepted_models": "A\nB\n"}).status_code == 302
    policy = VerifierPolicy.objects.get(owner=alice)
    assert policy.accepted_models == ["A", "B"]
    assert client_for(carol).get(f"/verify/policies/{policy.public_id}/").status_code == 404
    client.post(f"/verify/policies/{policy.public_id}/", {"name": "Grinders", "accepted_models": "C"})
    policy.refresh_from_db()
    assert policy.accepted_models == ["C"]
