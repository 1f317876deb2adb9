"""DIDComm v1 plaintext messages: message type keys under both prefixes (RFC 0348) and any 1.x (RFC 0003),
threads (RFC 0008), and RFC 0035 problem reports."""

from __future__ import annotations

import uuid

import pytest

from ssi import messages


@pytest.mark.parametrize(
    ("message_type", "key"),
    [
        ("https://didcomm.org/trust_ping/1.0/ping", messages.PING),
        ("did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/trust_ping/1.0/ping", messages.PING),  # RFC 0348 legacy prefix
        ("https://didcomm.org/didexchange/1.1/request", messages.DIDEXCHANGE_REQUEST),  # RFC 0003: any 1.x
        ("https://didcomm.org/basicmessage/1.7/message", messages.BASIC_MESSAGE),
        ("https://didcomm.org/did-rotate/01.0/ack", messages.ROTATE_ACK),
        ("https://didcomm.org/basicmessage/2.0/message", "basicmessage/2.0/message"),  # known by no handler
    ],
)
def test_a_message_type_maps_to_its_family_major_version_and_name(message_type, key):
    assert messages.message_type_key(message_type) == key


@pytest.mark.parametrize(
    "message_type",
    [
        "https://example.org/trust_ping/1.0/ping",  # another prefix
        "https://didcomm.org/trust_ping/ping",  # no version
        "https://didcomm.org/trust_ping/1/ping",  # no minor version
        "https://didcomm.org/trust_ping/1.x/ping",
        "https://didcomm.org/trust_ping/1.0/ping/extra",
        "https://didcomm.org//1.0/ping",
        "",
    ],
)
def test_a_malformed_message_type_has_no_key(message_type):
    assert messages.message_type_key(message_type) is None


def test_a_new_message_has_the_current_prefix_and_a_fresh_id():
    first = messages.new_message(messages.BASIC_MESSAGE, content="hi")
    second = messages.new_message(messages.BASIC_MESSAGE, content="hi")
    assert first["@type"] == "https://didcomm.org/basicmessage/1.0/message"
    assert first["content"] == "hi"
    assert uuid.UUID(first["@id"]) and first["@id"] != second["@id"]


@pytest.mark.parametrize(
    ("body", "thread"),
    [
        ({"~thread": {"thid": "t", "pthid": "p"}}, ("t", "p")),
        ({"~thread": {"thid": "t"}}, ("t", None)),
        ({"~thread": {"thid": 1, "pthid": ["p"]}}, (None, None)),
        ({"~thread": "t"}, (None, None)),
        ({}, (None, None)),
    ],
)
def test_thread_of_reads_only_string_thid_and_pthid(body, thread):
    assert messages.thread_of(body) == thread


def test_a_problem_report_carries_a_code_and_an_english_text_on_the_thread():
    report = messages.problem_report(thid="t", code="invalid-message", explanation="no content")
    # The generic name ACA-Py handles (it drops report-problem/1.0 as an unrecognised type).
    assert report["@type"] == "https://didcomm.org/notification/1.0/problem-report"
    assert report["description"] == {"en": "no content", "code": "invalid-message"}
    assert report["~thread"] == {"thid": "t"}
    assert report["impact"] == "message" and report["who_retries"] == "none"


def test_a_protocol_problem_report_is_about_the_thread_and_names_its_parent():
    report = messages.problem_report(
        thid="t", pthid="p", code="e.did.unresolvable", explanation="?", key=messages.ROTATE_PROBLEM_REPORT, x=1
    )
    assert report["@type"] == "https://didcomm.org/did-rotate/1.0/problem-report"
    assert report["~thread"] == {"thid": "t", "pthid": "p"}
    assert report["impact"] == "thread" and report["x"] == 1
