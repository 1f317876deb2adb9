"""A seller keeps working keys after a sale: they saw (or could have saved) the chip's SUN keys when it was
provisioned. Once the thing changes hands (twins.events.Transferred) a tap those keys verify is not genuine for the
new owner until the chip is re-keyed; the new owner is prompted to re-key, and require_genuine_tap refuses with a
message that says so."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import RequestFactory
from django.urls import reverse

from tags import nfc, sun
from tags.models import SunKeys
from tests.conftest import client_for
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db

UID = bytes.fromhex("04AB0000C0FFEE")


def tap_url(tag, meta: str, file: str, counter: int) -> str:
    params = sun.encode_tap(meta_key=bytes.fromhex(meta), file_key=bytes.fromhex(file), uid=UID, counter=counter)
    return f"{tag.get_absolute_url()}?{urlencode(params)}"


def genuine(response) -> bool:
    return response.status_code == 200 and 'data-testid="genuine-tag"' in response.content.decode()


@pytest.fixture
def sellers_row(alice, grinder, grinder_tag) -> dict:
    """alice provisions the grinder's tag (and so holds its keys), taps it, and sells the grinder to bob."""
    response = client_for(alice).post(
        reverse("tag-nfc", args=[grinder.slug]), {"tags": [grinder_tag.pk], "format": "json"}
    )
    (row,) = json.loads(response.content)["tags"]
    assert genuine(client_for(alice).get(tap_url(grinder_tag, row["key1_sdm_meta_read"], row["key2_sdm_file_read"], 1)))
    return row


@pytest.fixture
def sold(sellers_row, alice, bob, grinder):
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder.refresh_from_db()
    assert grinder.owner == bob
    return sellers_row


def _request(user, session):
    request = RequestFactory().post("/anything")
    request.user, request.session = user, session
    return request


def test_a_sale_marks_the_tags_keys_as_known_to_a_previous_owner(sold, grinder_tag):
    assert SunKeys.objects.get(tag=grinder_tag).known_to_previous_owner


def test_after_a_sale_a_tap_under_the_sellers_keys_is_not_genuine_for_anyone(sold, bob, grinder_tag, anon_client):
    keys = (sold["key1_sdm_meta_read"], sold["key2_sdm_file_read"])
    buyer = client_for(bob)
    response = buyer.get(tap_url(grinder_tag, *keys, 2))
    assert response.status_code == 200 and not genuine(response)  # the chip's own fresh tap, still not proof
    assert 'data-testid="one-box"' in response.content.decode()  # an ordinary owner's scan
    assert not genuine(anon_client.get(tap_url(grinder_tag, *keys, 3)))
    assert not nfc.has_genuine_tap(_request(bob, buyer.session), twin_id=grinder_tag.twin_id)


def test_require_genuine_tap_tells_the_new_owner_to_re_key(sold, bob, grinder, grinder_tag):
    buyer = client_for(bob)
    buyer.get(tap_url(grinder_tag, sold["key1_sdm_meta_read"], sold["key2_sdm_file_read"], 2))
    with pytest.raises(nfc.GenuineTapRequired) as refused:
        nfc.require_genuine_tap(_request(bob, buyer.session), twin_id=grinder.pk)
    assert "previous owner knew" in str(refused.value) and "re-key the tag" in str(refused.value)


def test_the_new_owner_is_prompted_to_re_key_and_the_nfc_page_preselects_it(sold, bob, grinder, grinder_tag):
    buyer = client_for(bob)
    thing = buyer.get(reverse("thing", args=[grinder.slug])).content.decode()
    assert 'data-testid="rekey-prompt"' in thing and grinder_tag.display_code in thing
    assert reverse("tag-nfc", args=[grinder.slug]) in thing
    page = buyer.get(reverse("tag-nfc", args=[grinder.slug])).content.decode()
    assert 'data-testid="rekey-prompt"' in page and "known to the previous owner: re-key" in page
    assert f'value="{grinder_tag.pk}" checked' in page and 'name="replace" value="on" checked' in page


def test_after_re_keying_taps_are_genuine_again_and_the_sellers_keys_prove_nothing(
    sold, bob, grinder, grinder_tag, anon_client
):
    buyer = client_for(bob)
    response = buyer.post(
        reverse("tag-nfc", args=[grinder.slug]), {"tags": [grinder_tag.pk], "format": "json", "replace": "on"}
    )
    (row,) = json.loads(response.content)["tags"]
    assert row["current_key2_sdm_file_read"] == sold["key2_sdm_file_read"]  # the tool authenticates with these
    assert 'data-testid="rekey-prompt"' not in buyer.get(reverse("thing", args=[grinder.slug])).content.decode()
    # Not programmed yet: the chip (or the seller's copy of its keys) still makes taps the old keys verify.
    assert not genuine(anon_client.get(tap_url(grinder_tag, sold["key1_sdm_meta_read"], sold["key2_sdm_file_read"], 5)))
    with pytest.raises(nfc.GenuineTapRequired, match="tap its NFC tag"):
        nfc.require_genuine_tap(_request(bob, buyer.session), twin_id=grinder.pk)
    # Programmed with the new keys: genuine, and the buyer may now do what needs the thing in hand.
    assert genuine(buyer.get(tap_url(grinder_tag, row["key1_sdm_meta_read"], row["key2_sdm_file_read"], 6)))
    nfc.require_genuine_tap(_request(bob, buyer.session), twin_id=grinder.pk)
    keys = SunKeys.objects.get(tag=grinder_tag)
    assert not keys.known_to_previous_owner and keys.previous_meta_read_key is None
    assert not genuine(anon_client.get(tap_url(grinder_tag, sold["key1_sdm_meta_read"], sold["key2_sdm_file_read"], 9)))


def test_without_a_sale_nothing_is_marked(sellers_row, alice, grinder, grinder_tag):
    assert not SunKeys.objects.get(tag=grinder_tag).known_to_previous_owner
    assert (
        'data-testid="rekey-prompt"'
        not in client_for(alice).get(reverse("thing", args=[grinder.slug])).content.decode()
    )


def test_the_tags_own_page_says_its_keys_are_known_to_the_previous_owner(sold, bob, grinder, grinder_tag):
    page = client_for(bob).get(reverse("tag-show", args=[grinder.slug, grinder_tag.pk])).content.decode()
    assert "known to the previous owner: re-key it" in page
