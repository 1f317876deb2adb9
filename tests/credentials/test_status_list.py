"""The public status list endpoint: anyone, cached, signed by the twin's DID, re-signed only on change."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from credentials.models import StatusList
from ssi import credentials as vc
from ssi import statuslist
from tests.credentials.helpers import standing
from twins.identity import log_state
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


def _path(grinder) -> str:
    return urlsplit(standing(grinder).data["credentialStatus"]["statusListCredential"]).path


def test_status_list_is_public_with_an_etag_and_a_five_minute_cache(grinder):
    response = Client().get(_path(grinder))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vc+ld+json"
    assert "public" in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]
    again = Client().get(_path(grinder), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_status_list_proof_verifies_and_the_revoked_bit_is_set(grinder, alice, bob):
    sellers = standing(grinder)
    before = Client().get(_path(grinder))
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder.refresh_from_db()
    response = Client().get(_path(grinder), HTTP_IF_NONE_MATCH=before["ETag"])
    assert response.status_code == 200, "a changed list has a new ETag"
    document = response.json()
    assert document["issuer"] == grinder.did
    result = vc.verify_credential(document, resolver=vc.log_resolver(log_state(grinder)))
    assert result.ok, result.line()
    bits, purpose = statuslist.read_list(document)
    assert purpose == "revocation" and len(bits) >= statuslist.MIN_LENGTH
    assert bits.set_indices() == [sellers.status_index]


def test_serving_the_list_does_not_sign_it_again(grinder, django_assert_max_num_queries):
    signed_at = StatusList.objects.get(twin=grinder).signed_at
    with django_assert_max_num_queries(2):
        Client().get(_path(grinder))
    assert StatusList.objects.get(twin=grinder).signed_at == signed_at


def test_unknown_list_is_a_404(db):
    assert Client().get("/credentials/status/nosuchlist").status_code == 404
