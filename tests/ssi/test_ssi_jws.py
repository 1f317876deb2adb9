"""RFC 0017 signed attachments (ssi.jws): ours round-trip, ACA-Py's verify, and every alteration is refused."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from ssi import jws
from ssi.didkey import did_key
from ssi.keys import SigningKey
from ssi.multibase import b58encode, b64url_decode, b64url_encode

# A did_doc~attach data object exactly as ACA-Py 1.7.0 signed it in a DID Exchange 1.0 request (its own key).
ACAPY_DATA = {
    "base64": (
        "eyJAY29udGV4dCI6ICJodHRwczovL3czaWQub3JnL2RpZC92MSIsICJpZCI6ICJkaWQ6c292OlJ1TktDSDRQR0hCZmNGSHlWWEhZRzQiLCAicHVi"
        "bGljS2V5IjogW3siaWQiOiAiZGlkOnNvdjpSdU5LQ0g0UEdIQmZjRkh5VlhIWUc0IzEiLCAidHlwZSI6ICJFZDI1NTE5VmVyaWZpY2F0aW9uS2V5"
        "MjAxOCIsICJjb250cm9sbGVyIjogImRpZDpzb3Y6UnVOS0NINFBHSEJmY0ZIeVZYSFlHNCIsICJwdWJsaWNLZXlCYXNlNTgiOiAiRWFFSmJZUzJZ"
        "TjhicEEyR3pwYzkyM0RqdWo5bUVQWGVTNzk0WFhiUUNxV3cifV0sICJhdXRoZW50aWNhdGlvbiI6IFt7InR5cGUiOiAiRWQyNTUxOVNpZ25hdHVy"
        "ZUF1dGhlbnRpY2F0aW9uMjAxOCIsICJwdWJsaWNLZXkiOiAiZGlkOnNvdjpSdU5LQ0g0UEdIQmZjRkh5VlhIWUc0IzEifV0sICJzZXJ2aWNlIjog"
        "W3siaWQiOiAiZGlkOnNvdjpSdU5LQ0g0UEdIQmZjRkh5VlhIWUc0O2luZHkiLCAidHlwZSI6ICJJbmR5QWdlbnQiLCAicHJpb3JpdHkiOiAwLCAi"
        "cmVjaXBpZW50S2V5cyI6IFsiRWFFSmJZUzJZTjhicEEyR3pwYzkyM0RqdWo5bUVQWGVTNzk0WFhiUUNxV3ciXSwgInNlcnZpY2VFbmRwb2ludCI6"
        "ICJodHRwOi8vMTI3LjAuMC4xOjUwNjE3In1dfQ=="
    ),
    "jws": {
        "header": {"kid": "did:key:z6Mkt2VMBngTsud4verygPZys8mjjJRceGn1883zMoZR84JK"},
        "protected": (
            "eyJhbGciOiAiRWREU0EiLCAiandrIjogeyJrdHkiOiAiT0tQIiwgImNydiI6ICJFZDI1NTE5IiwgIngiOiAieWFzamo4Q0wxMDlOZkFmWGtMb3Nw"
            "ZUI5d05McWpuUnBHWmI3T0JtSTRuQSIsICJraWQiOiAiZGlkOmtleTp6Nk1rdDJWTUJuZ1RzdWQ0dmVyeWdQWnlzOG1qakpSY2VHbjE4ODN6TW9a"
            "Ujg0SksifX0"
        ),
        "signature": "9G-EtvRhiXnt16ml_vZqLM_EBJPA4BY3fA_BNLJzgSpmP58gg8t49M7R6ymESYGgN_zLFLm5hanmzS30VDvBAw",
    },
}
ACAPY_VERKEY = "EaEJbYS2YN8bpA2Gzpc923Djuj9mEPXeS794XXbQCqWw"


@pytest.fixture
def key(make_key) -> SigningKey:
    return make_key(7)


def test_our_signed_data_verifies_and_names_the_signer(key):
    payload = b"did:peer:4zQmExample"
    data = jws.sign_data(payload, key)
    assert base64.b64decode(data["base64"]) == payload
    assert data["jws"]["header"] == {"kid": did_key(key.verify_key)}
    protected = json.loads(b64url_decode(data["jws"]["protected"]))
    # ACA-Py checks the signature against the protected jwk and against the kid: both are there.
    assert protected["alg"] == "EdDSA"
    assert protected["jwk"] == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url_encode(key.verify_key.raw),
        "kid": did_key(key.verify_key),
    }
    assert jws.verify_data(data) == (payload, key.verify_key)


def test_acapys_signed_attachment_verifies():
    payload, signer = jws.verify_data(ACAPY_DATA)
    assert b58encode(signer.raw) == ACAPY_VERKEY
    assert json.loads(payload)["id"] == "did:sov:RuNKCH4PGHBfcFHyVXHYG4"


@pytest.mark.parametrize("spelling", ["urlsafe", "unpadded", "padded"])
def test_base64_spellings_agents_use_are_read(key, spelling):
    payload = bytes(range(250))  # makes "+" and "/" in standard base64
    data = jws.sign_data(payload, key)
    if spelling == "urlsafe":
        data["base64"] = base64.urlsafe_b64encode(payload).decode()
    elif spelling == "unpadded":
        data["base64"] = data["base64"].rstrip("=")
    assert jws.verify_data(data)[0] == payload


def _altered(data: dict, change) -> dict:
    altered = copy.deepcopy(data)
    change(altered)
    return altered


def _set_protected(data: dict, header: dict) -> None:
    data["jws"]["protected"] = b64url_encode(json.dumps(header).encode())


OTHER = SigningKey.from_seed(b"\x09" * 32)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(base64=base64.b64encode(b"did:peer:4zQmOther").decode()), "does not verify"),
        (lambda d: d["jws"].update(signature=b64url_encode(bytes(64))), "does not verify"),
        (lambda d: d["jws"].update(signature=b64url_encode(bytes(63))), "does not verify"),
        (lambda d: d["jws"].update(signature=d["jws"]["signature"][:-1] + "*"), "not base64url"),
        (lambda d: d["jws"].update(header={"kid": did_key(OTHER.verify_key)}), "exactly one kid"),
        (lambda d: d.pop("jws"), "not signed"),
        (lambda d: d.update(base64="%%%"), "not base64"),
        (lambda d: d["jws"].update(protected="!!"), "not base64url"),
        (lambda d: _set_protected(d, {"alg": "none"}), "EdDSA"),
        (lambda d: _set_protected(d, {"alg": "EdDSA", "jwk": {"kty": "RSA"}}), "Ed25519 OKP"),
        (
            lambda d: (_set_protected(d, {"alg": "EdDSA", "kid": "did:web:example.com"}), d["jws"].pop("header")),
            "did:key",
        ),
        (lambda d: d["jws"].update(header={"kid": {"nested": 1}}), "exactly one kid"),
    ],
)
def test_any_alteration_is_refused_with_a_reason(key, change, says):
    data = jws.sign_data(b"did:peer:4zQmExample", key)
    with pytest.raises(jws.AttachmentError, match=says):
        jws.verify_data(_altered(data, change))


def test_a_jwk_naming_another_key_than_the_kid_is_refused(key):
    """Both name the signer; a verifier trusting one while checking the other would accept a forgery."""
    data = jws.sign_data(b"payload", key)
    kid = did_key(key.verify_key)
    _set_protected(
        data,
        {"alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(OTHER.verify_key.raw)}, "kid": kid},
    )
    with pytest.raises(jws.AttachmentError, match="different keys"):
        jws.verify_data(data)


def test_signed_by_another_key_verifies_as_that_key_only(key):
    """verify_data says who signed; the caller compares it with the key it expects (the invitation's)."""
    data = jws.sign_data(b"payload", OTHER)
    assert jws.verify_data(data)[1] == OTHER.verify_key != key.verify_key
