"""A twin's status list is stored empty until its first revocation (issue 16: 16 KiB of zeros a thing was most of
what a 10,000-row import wrote) and published exactly as a stored all-zero list was: the same document, byte for
byte; the first revocation stores the whole bitstring; a move carries the whole bitstring and takes either."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from django.db import transaction

from credentials import portability, services
from credentials.models import StatusList
from credentials.services import ownership_credentials_issue_new, status_list_sign
from ssi import credentials as vc
from ssi import statuslist
from tests.credentials.helpers import published_list, standing
from twins.identity import log_state
from twins.models import Twin
from twins.services import twin_create, twins_create_many
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db

ALL_CLEAR = bytes(statuslist.MIN_LENGTH // 8)


def _made_in_a_batch(owner, count: int = 2) -> list[Twin]:
    with transaction.atomic():
        twins = twins_create_many(
            owner=owner, items=[{"name": f"Cow {n}", "serial": f"C-{n}"} for n in range(count)], send_events=False
        )
        ownership_credentials_issue_new(twins=twins)
    return twins


def _served_list(twin: Twin) -> dict:
    document = published_list(standing(twin))
    result = vc.verify_credential(document, resolver=vc.log_resolver(log_state(twin)))
    assert result.ok, result.line()
    return document


@pytest.mark.parametrize("made", ["one by one", "in a batch"])
def test_a_new_things_list_is_stored_empty_and_served_all_clear(alice, made):
    twin = twin_create(owner=alice, name="Grinder") if made == "one by one" else _made_in_a_batch(alice)[0]
    assert bytes(StatusList.objects.get(twin=twin).bits) == b""
    bits, purpose = statuslist.read_list(_served_list(twin))
    assert purpose == "revocation" and len(bits) == statuslist.MIN_LENGTH and bits.set_indices() == []
    assert bits.to_bytes() == ALL_CLEAR


def _sign_at(status_list: StatusList, twin: Twin, at: datetime, monkeypatch) -> tuple[str, str]:
    monkeypatch.setattr(services, "_signing_time", lambda _twin: at)
    status_list_sign(status_list=status_list, twin=twin)
    return status_list.document, status_list.etag


@pytest.mark.parametrize("made", ["one by one", "in a batch"])
def test_an_empty_list_is_published_byte_for_byte_as_a_stored_all_zero_one(alice, made, monkeypatch):
    twin = twin_create(owner=alice, name="Grinder") if made == "one by one" else _made_in_a_batch(alice)[0]
    status_list = StatusList.objects.get(twin=twin)
    published = status_list.document, status_list.etag
    at = datetime.fromisoformat(json.loads(status_list.document)["proof"]["created"])
    # The list as it was stored before: 16 KiB of zeros, signed at the same moment by the one signing path.
    status_list.bits = ALL_CLEAR
    assert _sign_at(status_list, twin, at, monkeypatch) == published
    status_list.bits = b""
    assert _sign_at(status_list, twin, at, monkeypatch) == published


def test_the_first_revocation_stores_the_whole_bitstring(grinder, alice, bob):
    sellers = standing(grinder)
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    stored = bytes(StatusList.objects.get(twin=grinder).bits)
    assert len(stored) == statuslist.MIN_LENGTH // 8
    assert statuslist.Bitstring.from_bytes(stored).set_indices() == [sellers.status_index]
    grinder.refresh_from_db()
    assert statuslist.read_list(_served_list(grinder))[0].set_indices() == [sellers.status_index]


def test_a_moving_list_carries_the_whole_bitstring_while_stored_empty(grinder):
    exported = portability.export(grinder)["status_list"]
    assert base64.b64decode(exported["bits"]) == ALL_CLEAR


@pytest.mark.parametrize(
    ("bits", "revoke", "stored_set"),
    [("", [], None), ("", [0], [0]), (base64.b64encode(ALL_CLEAR).decode(), [], None)],
    ids=["empty, nothing to revoke", "empty, one revoked", "all zero, nothing to revoke"],
)
def test_an_arriving_list_is_taken_empty_or_whole(alice, bits, revoke, stored_set):
    twin = Twin.objects.create(owner=alice, name="Arriving")
    data = {
        "public_id": "arrivinglist1",
        "length": statuslist.MIN_LENGTH,
        "bits": bits,
        "next_index": 1,
        "document": "",
        "etag": "",
        "signed_at": None,
    }
    portability._restore_status_list(data, revoke, twin)
    stored = StatusList.objects.get(twin=twin)
    if stored_set is None:
        assert bytes(stored.bits) == b""
    else:
        assert statuslist.Bitstring.from_bytes(bytes(stored.bits)).set_indices() == stored_set
    assert len(stored.bitstring()) == statuslist.MIN_LENGTH
