"""RFC 0434 out-of-band 1.1 invitations: build, encode as a URL, parse back; every malformed one is an OOBError."""

from __future__ import annotations

import base64
import json

import pytest

from ssi import oob
from ssi.didkey import key_url
from ssi.keys import SigningKey
from ssi.multibase import b58encode, b64url_encode

ENDPOINT = "https://things.example/didcomm/"
RAW_VERKEY = "H3C2AVvLMv6gmMNam3uVAjZpfkcJCwDwnZn6z3wXmqPV"
OTHER_KEY = "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_seed(bytes(range(32)))


def encode(message: object) -> str:
    return f"{ENDPOINT}?oob={b64url_encode(json.dumps(message).encode())}"


def test_a_built_invitation_offers_did_exchange_1_1_then_1_0_with_an_inline_did_key_service(key):
    message = oob.build_invitation(label="Coffee grinder", recipient_key=key.verify_key, service_endpoint=ENDPOINT)
    assert message["@type"] == "https://didcomm.org/out-of-band/1.1/invitation"
    assert message["handshake_protocols"] == [
        "https://didcomm.org/didexchange/1.1",
        "https://didcomm.org/didexchange/1.0",
    ]
    [service] = message["services"]
    assert service["recipientKeys"] == [key_url(key.verify_key)]
    assert service["recipientKeys"][0].startswith("did:key:z6Mk")
    assert service == {**service, "type": "did-communication", "routingKeys": [], "serviceEndpoint": ENDPOINT}


def test_an_invitation_url_round_trips(key):
    message = oob.build_invitation(
        label="Grinder", recipient_key=key.verify_key, service_endpoint=ENDPOINT, goal_code="connect", goal="hi"
    )
    url = oob.invitation_url(message, ENDPOINT)
    assert url.startswith(ENDPOINT + "?oob=") and "=" not in url.split("?oob=")[1]
    invitation = oob.parse_url(url)
    assert invitation.id == message["@id"]
    assert invitation.label == "Grinder"
    assert invitation.handshake_protocols == (oob.DIDEXCHANGE_11, oob.DIDEXCHANGE_10)
    assert (invitation.goal_code, invitation.goal) == ("connect", "hi")
    [service] = invitation.services
    assert service.service_endpoint == ENDPOINT
    assert service.recipient_verkeys == (b58encode(key.verify_key.raw),)
    assert invitation.message == message


def test_a_padded_standard_alphabet_free_invitation_and_the_legacy_prefix_parse(key):
    message = oob.build_invitation(label="x", recipient_key=key.verify_key, service_endpoint=ENDPOINT)
    message["@type"] = "did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/out-of-band/1.0/invitation"
    padded = base64.urlsafe_b64encode(json.dumps(message).encode()).decode()
    assert oob.parse_url(f"https://elsewhere.example/?x=1&oob={padded}").id == message["@id"]


def test_a_did_service_is_kept_as_the_did(key):
    message = oob.build_invitation(label="x", recipient_key=key.verify_key, service_endpoint=ENDPOINT)
    message["services"] = ["did:peer:2.Ez6LSexample", message["services"][0]]
    invitation = oob.parse_url(encode(message))
    assert invitation.services[0] == "did:peer:2.Ez6LSexample"
    assert isinstance(invitation.services[1], oob.InlineService)


def _valid(key) -> dict:
    return oob.build_invitation(label="x", recipient_key=key.verify_key, service_endpoint=ENDPOINT)


BREAKERS = {
    "wrong type": lambda m: m.update({"@type": "https://didcomm.org/connections/1.0/invitation"}),
    "version 2": lambda m: m.update({"@type": "https://didcomm.org/out-of-band/2.0/invitation"}),
    "no type": lambda m: m.pop("@type"),
    "no id": lambda m: m.pop("@id"),
    "numeric label": lambda m: m.update({"label": 5}),
    "no services": lambda m: m.update({"services": []}),
    "service not a DID": lambda m: m.update({"services": ["https://example.org"]}),
    "service a number": lambda m: m.update({"services": [7]}),
    "no recipient keys": lambda m: m["services"][0].update({"recipientKeys": []}),
    "raw base58 recipient key": lambda m: m["services"][0].update({"recipientKeys": [RAW_VERKEY]}),
    "did:key fragment mismatch": lambda m: m["services"][0].update(
        {
            "recipientKeys": [
                m["services"][0]["recipientKeys"][0].split("#")[0] + "#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
            ]
        }
    ),
    "no endpoint": lambda m: m["services"][0].pop("serviceEndpoint"),
    "wrong service type": lambda m: m["services"][0].update({"type": "IndyAgent"}),
    "no handshake and no attachments": lambda m: m.pop("handshake_protocols"),
    "handshake not a list": lambda m: m.update({"handshake_protocols": "https://didcomm.org/didexchange/1.1"}),
    "goal_code not a string": lambda m: m.update({"goal_code": 1}),
}


@pytest.mark.parametrize("name", BREAKERS)
def test_a_malformed_invitation_raises_oob_error(name, key):
    message = _valid(key)
    BREAKERS[name](message)
    with pytest.raises(oob.OOBError):
        oob.parse_url(encode(message))


@pytest.mark.parametrize(
    "url",
    [
        ENDPOINT,
        ENDPOINT + "?oob=",
        ENDPOINT + "?oob=!!!",
        ENDPOINT + "?oob=a",
        ENDPOINT + "?oob=" + b64url_encode(b"not json"),
        ENDPOINT + "?oob=" + b64url_encode(b"[1, 2]"),
        ENDPOINT + "?oob=" + b64url_encode(b"\xff\xfe"),
        ENDPOINT + "?oob=" + b64url_encode(b"{}") + "&oob=" + b64url_encode(b"{}"),
        ENDPOINT + "?oob=" + "A" * (oob.MAX_ENCODED_CHARS + 4),
        "http://[::1",
    ],
)
def test_a_url_without_a_readable_invitation_raises_oob_error(url):
    with pytest.raises(oob.OOBError):
        oob.parse_url(url)


def test_a_non_string_url_raises_oob_error():
    with pytest.raises(oob.OOBError):
        oob.parse_url(None)  # type: ignore[arg-type]
