"""W3C Bitstring Status List v1.0: the bitstring, its encoding, the list credential and its entries."""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssi import credentials as vc
from ssi import statuslist
from ssi.didkey import did_key
from ssi.keys import SigningKey
from ssi.statuslist import MIN_LENGTH, Bitstring, StatusListError

ISSUER = SigningKey.from_seed((31).to_bytes(32, "big"))
ISSUER_DID = did_key(ISSUER.verify_key)
URL = "https://issuer.example/status/3"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_a_list_with_index_99999_revoked_encodes_exactly_per_the_spec():
    """The issue's "status list with 100,000 entries": the spec's minimum of 131,072 bits, bit 99,999 set."""
    bits = Bitstring()
    assert len(bits) == MIN_LENGTH == 131_072
    bits.set(99_999)
    signed = vc.issue(statuslist.list_credential(url=URL, issuer=ISSUER_DID, bits=bits), ISSUER)
    subject = signed["credentialSubject"]
    assert signed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert subject == {
        "id": f"{URL}#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": subject["encodedList"],
    }
    # §2.2: multibase base64url ('u'), no padding, of the GZIP of the bitstring; index 0 = left-most bit.
    encoded = subject["encodedList"]
    assert encoded[0] == "u" and "=" not in encoded and "+" not in encoded and "/" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == 131_072 // 8
    assert raw[99_999 // 8] == 0x80 >> (99_999 % 8) == 0x01  # byte 12,499, right-most bit
    assert raw.count(0) == len(raw) - 1
    decoded = Bitstring.decode(encoded)
    assert decoded.test(99_999) and decoded.set_indices() == [99_999]
    assert not any(decoded.test(i) for i in (0, 99_998, 100_000, 131_071))
    # The list's own proof verifies.
    assert vc.verify_credential(signed, now=NOW).ok


def test_bit_zero_is_the_left_most_bit_of_the_first_byte():
    bits = Bitstring()
    bits.set(0)
    bits.set(15)
    assert bits.to_bytes()[:2] == b"\x80\x01"


def test_set_clear_test_and_bounds():
    bits = Bitstring()
    bits.set(42)
    assert bits[42] and not bits[41]
    bits.clear(42)
    assert not bits[42]
    for bad in (-1, MIN_LENGTH, "3"):
        with pytest.raises(StatusListError):
            bits.test(bad)


def test_too_short_lists_are_refused_both_ways():
    with pytest.raises(StatusListError):
        Bitstring(1024)
    short = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(1024))).rstrip(b"=").decode()
    with pytest.raises(StatusListError, match="minimum"):
        Bitstring.decode(short)


@pytest.mark.parametrize(
    "encoded",
    [
        "zabc",  # base58, not base64url
        "u" + base64.urlsafe_b64encode(bytes(MIN_LENGTH // 8)).rstrip(b"=").decode(),  # not compressed
        "u" + base64.urlsafe_b64encode(gzip.compress(bytes(MIN_LENGTH // 8), mtime=0) + b"x").decode(),  # padded
        "u" + base64.urlsafe_b64encode(gzip.compress(bytes(MIN_LENGTH // 8), mtime=0) + b"junk").rstrip(b"=").decode(),
    ],
)
def test_bad_encodings_are_refused(encoded):
    with pytest.raises(StatusListError):
        Bitstring.decode(encoded)


def test_a_gzip_bomb_is_refused():
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(statuslist.MAX_BYTES + 8))).rstrip(b"=").decode()
    with pytest.raises(StatusListError, match="too long"):
        Bitstring.decode(bomb)


def test_the_status_entry_has_the_index_as_a_string():
    entry = statuslist.status_entry(url=URL, index=99_999)
    assert entry == {
        "id": f"{URL}#99999",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "99999",
        "statusListCredential": URL,
    }
    assert statuslist.read_entry(entry) == statuslist.StatusEntry(URL, 99_999, "revocation")
    for bad in ({**entry, "statusListIndex": 99_999}, {**entry, "statusListIndex": "007"}, {**entry, "type": "X"}):
        with pytest.raises(StatusListError):
            statuslist.read_entry(bad)


def test_an_index_beyond_the_list_cannot_be_checked():
    lst = vc.issue(statuslist.list_credential(url=URL, issuer=ISSUER_DID, bits=Bitstring()), ISSUER)
    cred = vc.issue(
        vc.credential(
            issuer=ISSUER_DID,
            subject={"id": "did:example:x"},
            status=statuslist.status_entry(url=URL, index=MIN_LENGTH),
        ),
        ISSUER,
    )
    assert vc.verify_credential(cred, status_lists=[lst], now=NOW).verdict is vc.Verdict.CANNOT_CHECK


def test_an_expired_status_list_cannot_vouch_for_a_credential():
    lst = vc.issue(
        statuslist.list_credential(url=URL, issuer=ISSUER_DID, bits=Bitstring(), valid_until="2026-02-01T00:00:00Z"),
        ISSUER,
    )
    cred = vc.issue(
        vc.credential(
            issuer=ISSUER_DID, subject={"id": "did:example:x"}, status=statuslist.status_entry(url=URL, index=1)
        ),
        ISSUER,
    )
    result = vc.verify_credential(cred, status_lists=[lst], now=NOW)
    assert result.verdict is vc.Verdict.CANNOT_CHECK and "out of date" in result.reason


def test_a_cached_list_is_verified_once_and_then_answers_each_credential():
    bits = Bitstring()
    bits.set(5)
    lists = vc.StatusLists([vc.issue(statuslist.list_credential(url=URL, issuer=ISSUER_DID, bits=bits), ISSUER)])

    def cred(i: int) -> dict:
        entry = statuslist.status_entry(url=URL, index=i)
        return vc.issue(vc.credential(issuer=ISSUER_DID, subject={"id": f"did:example:{i}"}, status=entry), ISSUER)

    verdicts = [vc.verify_credential(cred(i), status_lists=lists, now=NOW).verdict for i in (4, 5, 6)]
    assert verdicts == [vc.Verdict.VALID, vc.Verdict.REVOKED, vc.Verdict.VALID]


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(0, MIN_LENGTH - 1), max_size=40))
def test_any_set_of_indices_round_trips_through_encoded_list(indices):
    bits = Bitstring()
    for i in indices:
        bits.set(i)
    decoded = Bitstring.decode(bits.encode())
    assert decoded.set_indices() == sorted(indices)
    assert decoded.encode() == bits.encode()
