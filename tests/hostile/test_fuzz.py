"""Fuzzers for everything that parses what a stranger sends (credentials included): each input is either accepted
or refused with the parser's own error (a clear message), never another exception.

`make fuzz` runs each with 100,000 inputs (FUZZ_EXAMPLES); the test suite runs a short pass. Inputs are random
bytes and text, and mutations of a valid sample (bytes flipped, inserted, cut), which reach deeper than noise.
"""

from __future__ import annotations

import base64
import json
import os
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest import mapping, mqtt
from ssi import bundle, credentials, didpeer, envelope, history, oob, statuslist, webhooks, webvh
from ssi.errors import SSIError
from ssi.keys import SigningKey
from ssi.multibase import b58encode

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)


@st.composite
def mutated(draw, sample: bytes) -> bytes:
    """`sample` with a few bytes flipped, inserted or cut."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "cut", "cut-tail"]))
        if action == "flip" and data:
            data[where] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif action == "cut" and data:
            del data[where : where + draw(st.integers(1, 16))]
        elif action == "cut-tail":
            del data[where:]
    return bytes(data)


def inputs(sample: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=512), mutated(sample), st.text(max_size=256).map(str.encode))


# --- DIDComm envelope (RFC 0019) -------------------------------------------------------------------------------

ME, THEM = SigningKey.generate(), SigningKey.generate()
MY_VERKEY = b58encode(ME.verify_key.raw)
MY_KEYS = {MY_VERKEY: ME}
ENVELOPE = envelope.pack(b'{"@type": "x", "@id": "1"}', to_verkeys=[MY_VERKEY], from_key=THEM)


@fuzz
@given(inputs(ENVELOPE))
def test_envelope_unpack_refuses_garbage_with_its_own_error(raw):
    try:
        envelope.unpack(raw, my_keys=MY_KEYS)
    except envelope.EnvelopeError:
        pass


# --- Standard Webhooks -----------------------------------------------------------------------------------------

SECRET = webhooks.new_secret()
NOW = int(time.time())
BODY = b'{"thing": "kettle", "value": 21.5}'
HEADERS = webhooks.headers_for(SECRET, "msg_1", NOW, BODY)


@fuzz
@given(
    st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "x"]),
        st.one_of(st.text(max_size=120), st.sampled_from(list(HEADERS.values()))),
    ),
    inputs(BODY),
)
def test_webhook_verify_refuses_garbage_with_its_own_error(headers, body):
    try:
        webhooks.verify([SECRET], headers, body, NOW)
    except webhooks.WebhookError:
        pass


# --- MQTT envelopes and the JSON Pointer mapping -----------------------------------------------------------------

MQTT_ENVELOPE = json.dumps({**HEADERS, "payload": BODY.decode()}).encode()


@fuzz
@given(inputs(MQTT_ENVELOPE))
@example(b'{"payload": "\\ud800"}')  # found by this fuzzer: a lone surrogate escaped the envelope's own error
def test_mqtt_envelope_refuses_garbage_with_its_own_error(payload):
    try:
        mqtt.unpack(payload, None)
    except mqtt.EnvelopeError:
        pass


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@fuzz
@given(JSON, st.dictionaries(st.sampled_from(list(mapping.FIELDS)), st.text(max_size=20), max_size=4))
def test_mapping_refuses_garbage_with_its_own_errors(payload, raw_mapping):
    from datetime import UTC, datetime

    try:
        mapping.extract(payload, mapping.clean_mapping(raw_mapping), now=datetime.now(UTC))
    except (mapping.PayloadError, mapping.PointerSyntaxError, mapping.TooManyReadings):
        pass


# --- did:webvh logs, histories, bundles -------------------------------------------------------------------------

SIGNER = SigningKey.generate()
STATE = webvh.create(
    signer=SIGNER,
    domain="example.com",
    path=("twins", "x"),
    document=webvh.document_for(
        webvh.make_did(webvh.SCID_PLACEHOLDER, "example.com", ("twins", "x")), signing_keys=[SIGNER.verify_key]
    ),
    update_keys=[SIGNER.multibase],
)
LOG = "".join(webvh.json_line(entry) + "\n" for entry in STATE.entries).encode()


@fuzz
@given(inputs(LOG))
def test_did_log_verifier_refuses_garbage_with_its_own_error(raw):
    try:
        webvh.verify_jsonl(raw.decode("utf-8", errors="surrogateescape"))
    except SSIError:
        pass


def _history_entries() -> list[dict]:
    entries, previous = [], None
    for n in range(3):
        previous = history.append(
            previous,
            content={"n": n},
            kind="note",
            key=SIGNER,
            scid=webvh.parse_did(STATE.did).scid,
            time=STATE.latest.time,
        )
        entries.append(previous)
    return entries


BUNDLE = json.dumps(
    {"format": bundle.FORMAT, "did": STATE.did, "did_log": LOG.decode().splitlines(), "history": _history_entries()}
).encode()


@fuzz
@given(inputs(BUNDLE))
def test_bundle_verifier_refuses_garbage_with_its_own_error(raw):
    try:
        bundle.verify_bundle(raw)
    except SSIError:
        pass


# --- DIDs and invitations ---------------------------------------------------------------------------------------

PEER2 = didpeer.peer2([("V", ME.verify_key.multibase)]).encode()
INVITATION = oob.invitation_url(
    oob.build_invitation(label="x", recipient_key=ME.verify_key, service_endpoint="https://example.com/didcomm/"),
    "https://example.com/",
).encode()


@fuzz
@given(st.one_of(inputs(PEER2), st.text(max_size=200).map(lambda t: ("did:peer:4" + t).encode())))
def test_peer_did_resolver_refuses_garbage_with_its_own_error(raw):
    try:
        didpeer.resolve(raw.decode("utf-8", errors="replace"))
    except SSIError:
        pass


@fuzz
@given(
    st.one_of(
        inputs(INVITATION),
        st.binary(max_size=300).map(lambda b: b"https://x.example/?oob=" + base64.urlsafe_b64encode(b)),
    )
)
def test_invitation_parser_refuses_garbage_with_its_own_error(raw):
    try:
        oob.parse_url(raw.decode("utf-8", errors="replace"))
    except SSIError:
        pass


# --- Tag and code resolvers, through the public pages ----------------------------------------------------------


@pytest.mark.django_db
@fuzz
@given(st.text(max_size=80))
def test_tag_pages_answer_any_token_or_code_without_a_server_error(client, text):
    from django.core.cache import cache

    cache.clear()  # the per-client scan budget would turn every later input into a 429
    for response in (client.get("/t/", {"code": text}), client.get("/t/" + text.replace("/", "") if text else "/t/x")):
        assert response.status_code < 500


# --- Verifiable credentials and presentations -------------------------------------------------------------------

_ISSUER = f"did:key:{SIGNER.verify_key.multibase}"
_LIST_URL = "https://example.com/credentials/status/1"
STATUS_LIST = credentials.issue(
    statuslist.list_credential(url=_LIST_URL, issuer=_ISSUER, bits=statuslist.Bitstring()), SIGNER
)
CREDENTIAL = credentials.issue(
    credentials.credential(
        issuer=_ISSUER,
        subject={"id": f"did:key:{ME.verify_key.multibase}", "owns": STATE.did, "model": "Baratza Encore"},
        status=statuslist.status_entry(url=_LIST_URL, index=7),
    ),
    SIGNER,
)
PRESENTATION = credentials.present([CREDENTIAL], ME, challenge="c-1", domain="shop.example")


@fuzz
@given(st.one_of(inputs(json.dumps(CREDENTIAL).encode()), inputs(json.dumps(PRESENTATION).encode())))
def test_credential_and_presentation_verifiers_answer_a_verdict_for_anything(raw):
    """Never an exception: whatever arrives gets a verdict and a reason a person can read."""
    for verify in (
        lambda: credentials.verify_credential(raw, status_lists=[STATUS_LIST]),
        lambda: credentials.verify_presentation(
            raw, challenge="c-1", domain="shop.example", status_lists=[STATUS_LIST]
        ),
    ):
        result = verify()
        assert result.verdict in set(credentials.Verdict) and result.reason
