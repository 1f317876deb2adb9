"""Aries DIDComm v1 plaintext messages: the protocol message types we speak, and building and reading the parts
every protocol shares (``@type``, ``@id``, ``~thread``, RFC 0035 problem reports). No transport, no storage."""

from __future__ import annotations

import uuid
from typing import Any

from ssi.oob import DIDCOMM_PREFIX, LEGACY_PREFIX

# Message type keys: ``family/major.0/name``, what :func:`message_type_key` maps a received ``@type`` to.
PING = "trust_ping/1.0/ping"
PING_RESPONSE = "trust_ping/1.0/ping_response"
BASIC_MESSAGE = "basicmessage/1.0/message"
PROBLEM_REPORT = "report-problem/1.0/problem-report"
# ACA-Py's name for an RFC 0035 problem report (its protocols/problem_report/v1_0/message_types.py): how it answers
# a message it cannot parse. Taken as a problem report (stored, never answered), it cannot start a loop of each
# side answering the other's report with one of its own.
NOTIFICATION_PROBLEM_REPORT = "notification/1.0/problem-report"
# RFC 0023 DID Exchange; each key covers 1.0 and 1.1 (RFC 0003: same major version).
DIDEXCHANGE_REQUEST = "didexchange/1.0/request"
DIDEXCHANGE_RESPONSE = "didexchange/1.0/response"
DIDEXCHANGE_COMPLETE = "didexchange/1.0/complete"
DIDEXCHANGE_PROBLEM_REPORT = "didexchange/1.0/problem_report"
# RFC 0794 DID Rotate.
ROTATE = "did-rotate/1.0/rotate"
ROTATE_ACK = "did-rotate/1.0/ack"
ROTATE_PROBLEM_REPORT = "did-rotate/1.0/problem-report"
ROTATE_HANGUP = "did-rotate/1.0/hangup"
# RFC 0028 Introduce (its message names; ssi/introduce.py builds and reads them). The RFC leaves a declined
# introduction's ending open: the introducer tells the other introducee with the family's RFC 0035 problem
# report, as the Aries protocols of offers do when one side abandons (issue-credential's "issuance-abandoned").
INTRODUCE_PROPOSAL = "introduce/1.0/proposal"
INTRODUCE_RESPONSE = "introduce/1.0/response"
INTRODUCE_REQUEST = "introduce/1.0/request"
INTRODUCE_ACK = "introduce/1.0/ack"
INTRODUCE_PROBLEM_REPORT = "introduce/1.0/problem-report"

# Thingstead's own protocols (README "Thingstead message types"): their keys start with ``thingstead:`` and their
# ``@type`` with THINGSTEAD_PREFIX, a URI we control, as RFC 0003 asks of a protocol outside the Aries RFCs.
THINGSTEAD_PREFIX = "https://thingstead.org/didcomm/"
THINGSTEAD_KEY = "thingstead:"


def message_type_key(message_type: str) -> str | None:
    """``family/major.0/name`` for a message type URI under either prefix, or ``None``.

    RFC 0348: the old prefix is still accepted on receipt (we always send the new one). RFC 0003 semver: a
    receiver that knows 1.0 handles any 1.x (it ignores what it does not know).
    """
    own = ""
    for prefix in (DIDCOMM_PREFIX, LEGACY_PREFIX, THINGSTEAD_PREFIX):
        if message_type.startswith(prefix):
            parts = message_type[len(prefix) :].split("/")
            own = THINGSTEAD_KEY if prefix == THINGSTEAD_PREFIX else ""
            break
    else:
        return None
    if len(parts) != 3 or not all(parts):
        return None
    family, version, name = parts
    major, dot, minor = version.partition(".")
    if not (major.isdigit() and dot and minor.isdigit()):
        return None
    return f"{own}{family}/{int(major)}.0/{name}"


def thread(thid: str) -> dict[str, str]:
    """The ``~thread`` decorator of an answer on thread ``thid`` (RFC 0008)."""
    return {"thid": thid}


def thread_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """A message's ``~thread`` ``thid`` and ``pthid`` (each ``None`` unless a string)."""
    decorator = body.get("~thread")
    if not isinstance(decorator, dict):
        return None, None
    thid, pthid = decorator.get("thid"), decorator.get("pthid")
    return (thid if isinstance(thid, str) else None), (pthid if isinstance(pthid, str) else None)


def new_message(key: str, **body: Any) -> dict[str, Any]:
    """A message of type ``key`` (under the current prefix, or Thingstead's for a ``thingstead:`` key) with a
    fresh ``@id``."""
    return {"@type": message_type_uri(key), "@id": str(uuid.uuid4()), **body}


def message_type_uri(key: str) -> str:
    """The ``@type`` we send for a message type key."""
    if key.startswith(THINGSTEAD_KEY):
        return THINGSTEAD_PREFIX + key[len(THINGSTEAD_KEY) :]
    return DIDCOMM_PREFIX + key


def problem_report(
    *,
    thid: str,
    code: str,
    explanation: str,
    key: str = NOTIFICATION_PROBLEM_REPORT,
    pthid: str | None = None,
    impact: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """RFC 0035: ``description`` carries a machine-readable ``code`` and an English text. ``key`` names a
    protocol's own problem report (``didexchange/1.1/problem_report``, ``did-rotate/1.0/problem-report``); by
    default the generic one, :data:`NOTIFICATION_PROBLEM_REPORT` (ACA-Py handles that name and drops
    ``report-problem/1.0``; both are taken on receipt). ``impact`` (RFC 0035: message, thread or connection): by
    default ``message`` for a generic report, ``thread`` for a protocol's own."""
    decorator = thread(thid)
    if pthid is not None:
        decorator["pthid"] = pthid
    return new_message(
        key,
        description={"en": explanation, "code": code},
        impact=impact or ("message" if key in (PROBLEM_REPORT, NOTIFICATION_PROBLEM_REPORT) else "thread"),
        who_retries="none",
        **extra,
        **{"~thread": decorator},
    )
