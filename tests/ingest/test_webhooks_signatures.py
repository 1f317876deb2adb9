"""ssi.webhooks against the Standard Webhooks spec's own vector (tests/data/ingest/symmetric-v1.json)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ssi import webhooks

VECTOR = json.loads((Path(__file__).parents[1] / "data" / "ingest" / "symmetric-v1.json").read_text())
SECRET = VECTOR["secret"]
MSG_ID = VECTOR["msg_id"]
TIMESTAMP = VECTOR["timestamp"]
BODY = VECTOR["payload"].encode()
EXPECTED = VECTOR["expected_signature"]


def headers(signature: str, *, msg_id: str = MSG_ID, timestamp: int | str = TIMESTAMP) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_signing_the_spec_vector_gives_the_published_signature():
    assert webhooks.sign(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_the_spec_vector_verifies_at_its_own_time():
    assert webhooks.verify([SECRET], headers(EXPECTED), BODY, now=TIMESTAMP) == MSG_ID


def test_the_secret_decodes_with_or_without_the_whsec_prefix():
    assert webhooks.decode_secret(SECRET) == webhooks.decode_secret(SECRET.removeprefix("whsec_"))
    assert len(webhooks.decode_secret(SECRET)) == 24


@pytest.mark.parametrize("name", list(VECTOR["negative_examples"]))
def test_each_negative_example_of_the_spec_is_rejected_as_not_authentic(name):
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify([SECRET], headers(VECTOR["negative_examples"][name]), BODY, now=TIMESTAMP)


def test_any_matching_signature_in_a_space_separated_list_wins():
    unrelated = VECTOR["negative_examples"]["unrelated_signature_used_in_multi_sig_header_tests"]
    for signature in (f"{unrelated} {EXPECTED}", f"{EXPECTED} {unrelated}", f"v1a,abc {unrelated} {EXPECTED}"):
        assert webhooks.verify([SECRET], headers(signature), BODY, now=TIMESTAMP) == MSG_ID


def test_unknown_signature_versions_are_ignored_not_trusted():
    # The same bytes under another version label are not a v1 signature.
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify([SECRET], headers("v2," + EXPECTED.removeprefix("v1,")), BODY, now=TIMESTAMP)
    spec_example = VECTOR["spec_example_no_secret_given"]["webhook-signature"]
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify([SECRET], headers(spec_example), BODY, now=TIMESTAMP)


def test_any_secret_of_several_may_have_signed():
    other = webhooks.new_secret()
    assert webhooks.verify([other, SECRET], headers(EXPECTED), BODY, now=TIMESTAMP) == MSG_ID
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify([other], headers(EXPECTED), BODY, now=TIMESTAMP)


@pytest.mark.parametrize(
    "change",
    [
        {"body": BODY + b" "},
        {"msg_id": MSG_ID + "x"},
        {"timestamp": TIMESTAMP + 1},
    ],
    ids=["body", "id", "timestamp"],
)
def test_changing_the_body_id_or_timestamp_breaks_the_signature(change):
    body = change.get("body", BODY)
    hdrs = headers(EXPECTED, msg_id=change.get("msg_id", MSG_ID), timestamp=change.get("timestamp", TIMESTAMP))
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify([SECRET], hdrs, body, now=TIMESTAMP)


@pytest.mark.parametrize("offset", [-301, 301, -86400, 86400 * 3])
def test_a_timestamp_more_than_five_minutes_away_is_rejected_even_with_a_valid_signature(offset):
    signature = webhooks.sign(SECRET, MSG_ID, TIMESTAMP, BODY)
    with pytest.raises(webhooks.WebhookVerificationError, match="timestamp"):
        webhooks.verify([SECRET], headers(signature), BODY, now=TIMESTAMP - offset)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_a_timestamp_within_five_minutes_is_accepted(offset):
    assert webhooks.verify([SECRET], headers(EXPECTED), BODY, now=TIMESTAMP + offset) == MSG_ID


def test_header_names_are_case_insensitive():
    upper = {name.title(): value for name, value in headers(EXPECTED).items()}
    assert webhooks.verify([SECRET], upper, BODY, now=TIMESTAMP) == MSG_ID


def test_a_missing_signature_is_not_authentic():
    hdrs = headers(EXPECTED)
    del hdrs["webhook-signature"]
    with pytest.raises(webhooks.WebhookVerificationError, match="missing"):
        webhooks.verify([SECRET], hdrs, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp"])
def test_a_missing_id_or_timestamp_header_is_a_header_error(missing):
    hdrs = headers(EXPECTED)
    del hdrs[missing]
    with pytest.raises(webhooks.WebhookHeaderError, match=missing):
        webhooks.verify([SECRET], hdrs, BODY, now=TIMESTAMP)


@pytest.mark.parametrize(
    "signature",
    [
        "v1",  # no comma
        "v1,",  # no signature
        ",abc",  # no version
        "v1,not base64!",
        "v1," + base64.b64encode(b"short").decode(),  # not 32 bytes
        EXPECTED + " v1",  # one good, one malformed: the header as a whole is malformed
    ],
)
def test_a_malformed_signature_header_is_a_header_error(signature):
    with pytest.raises(webhooks.WebhookHeaderError):
        webhooks.verify([SECRET], headers(signature), BODY, now=TIMESTAMP)


@pytest.mark.parametrize("timestamp", ["", "abc", "1614265330.5", "-1614265330", "1e9", " 1614265330"])
def test_a_malformed_timestamp_is_a_header_error(timestamp):
    with pytest.raises(webhooks.WebhookHeaderError):
        webhooks.verify([SECRET], headers(EXPECTED, timestamp=timestamp), BODY, now=TIMESTAMP)


@pytest.mark.parametrize("msg_id", ["has space", "x" * 256, "tab\there"])
def test_a_malformed_webhook_id_is_a_header_error(msg_id):
    with pytest.raises(webhooks.WebhookHeaderError):
        webhooks.verify([SECRET], headers(EXPECTED, msg_id=msg_id), BODY, now=TIMESTAMP)


def test_new_secrets_are_whsec_and_at_least_24_random_bytes():
    secrets = {webhooks.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(webhooks.decode_secret(secret)) >= 24
    with pytest.raises(webhooks.SecretError):
        webhooks.new_secret(16)


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not base64!", "whsec_abc"])
def test_a_string_that_is_not_a_secret_is_refused(bad):
    with pytest.raises(webhooks.SecretError):
        webhooks.decode_secret(bad)


def test_a_round_trip_with_a_generated_secret_verifies():
    secret = webhooks.new_secret()
    hdrs = webhooks.headers_for(secret, "msg_1", 1_700_000_000, b"{}")
    assert webhooks.verify([secret], hdrs, b"{}", now=1_700_000_000) == "msg_1"
