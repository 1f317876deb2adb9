"""Aries RFC 0028 Introduce 1.0: building and reading its messages. No transport, no storage.

Roles: the **introducer** knows two parties that do not know each other and proposes to each that they
connect; each **introducee** approves or not. The introducer sends a ``proposal`` to each introducee, whose
``to`` is an *introducee descriptor* of the other party (a name, a description, whether that party was also
asked: ``proposed``). An introducee answers with a ``response`` on the proposal's thread: ``approve``, and when
approving, usually an ``invitation`` the introducer then delivers to the other introducee (RFC 0028: "the goal of
the introduce protocol is to start the connect protocol"). A party may also ``request`` an introduction.

Thingstead's use: a twin introduces its owner to its manufacturer. Both ends of the wire are here::

    twin → manufacturer   proposal   {"to": {"name": "The owner of this thing", ...}, "thing": {did, gtin, serial}}
    manufacturer → twin   response   {"approve": true, "invitation": {RFC 0434 invitation}, "asks_for": [...]}
    (the owner decides; the twin hands the invitation to the owner's agent, which starts DID Exchange)
    twin → manufacturer   problem-report {"description": {"code": "declined"}} when the owner says no

``thing`` (what the introduction is about), ``asks_for`` (the data kinds the party would like, for the owner to
see) and ``purpose`` (why, in words) are Thingstead's additions to the RFC's messages; RFC 0003 has receivers
ignore what they do not know, so another agent reads the rest as plain RFC 0028. The invitation is an RFC 0434
out-of-band invitation (the RFC's ``connection-invitation`` predates it); delivered by the introducer it carries
``~thread.pthid``: the introduction it belongs to.

A declined introduction: RFC 0028 ends the introducer's side ("arranging → rejected") without a message to the
other introducee. We send one, built from the thread id alone (:func:`declined`), so the manufacturer can drop
the invitation it handed out; it carries nothing about the owner.

Every failure to read raises :class:`IntroduceError`, and nothing else.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from ssi import oob
from ssi.errors import SSIError
from ssi.messages import (
    INTRODUCE_ACK,
    INTRODUCE_PROBLEM_REPORT,
    INTRODUCE_PROPOSAL,
    INTRODUCE_REQUEST,
    INTRODUCE_RESPONSE,
    message_type_key,
    new_message,
    problem_report,
    thread,
    thread_of,
)

# RFC 0035 codes of the introduce family's problem reports.
DECLINED = "declined"  # the other introducee said no (nothing more is said about them)
NOT_UNDERSTOOD = "introduction-not-understood"
# RFC 0015 ack statuses.
ACK_OK = "OK"
ACK_FAIL = "FAIL"
ACK_PENDING = "PENDING"

NAME_MAX = 200
DESCRIPTION_MAX = 2000
PURPOSE_MAX = 2000
THING_DID_MAX = 300
ASKS_MAX = 20
# A data kind: "readings", or one kind of them, "readings:temperature" (what a grant covers).
KIND = re.compile(r"^[a-z]{1,30}(:[A-Za-z0-9_.-]{1,40})?$")
GTIN = re.compile(r"^\d{14}$")
# GS1 AI 21: up to 20 characters of the GS1 URI-safe set.
SERIAL = re.compile(r"^[A-Za-z0-9!\"%&'()*+,\-./:;<=>?_]{1,20}$")


class IntroduceError(SSIError):
    """A message of the introduce family is malformed; ``str(exc)`` says what (for a problem report)."""


@dataclass(frozen=True)
class Descriptor:
    """RFC 0028's introducee descriptor: who the other party is, as the introducer describes them."""

    name: str
    description: str = ""
    proposed: bool | None = None  # whether that party gets (or got) a proposal of its own

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        if self.proposed is not None:
            data["proposed"] = self.proposed
        return data


@dataclass(frozen=True)
class Thing:
    """What an introduction is about (a Thingstead addition): the thing's DID, and its GTIN and serial when the
    introducer knows them."""

    did: str
    gtin: str = ""
    serial: str = ""

    def as_json(self) -> dict[str, str]:
        data = {"did": self.did}
        if self.gtin:
            data["gtin"] = self.gtin
        if self.serial:
            data["serial"] = self.serial
        return data


@dataclass(frozen=True)
class Proposal:
    id: str
    to: Descriptor
    thing: Thing | None = None
    nwise: bool = False


@dataclass(frozen=True)
class Response:
    thid: str
    approve: bool
    invitation: oob.Invitation | None = None
    asks_for: tuple[str, ...] = ()
    purpose: str = ""


@dataclass(frozen=True)
class Request:
    id: str
    please_introduce_to: Descriptor
    thing: Thing | None = None


# -- build ----------------------------------------------------------------------------------------------------


def proposal(*, to: Descriptor, thing: Thing | None = None, message_id: str | None = None) -> dict[str, Any]:
    """A ``proposal`` describing the other introducee (``to``); its ``@id`` is the introduction's thread id.
    Pairwise (``nwise: false``): the introducer takes no part in the relationship it proposes."""
    body = new_message(INTRODUCE_PROPOSAL, to=to.as_json(), nwise=False)
    if message_id is not None:
        body["@id"] = message_id
    if thing is not None:
        body["thing"] = thing.as_json()
    return body


def response(
    *,
    thid: str,
    approve: bool,
    invitation: dict[str, Any] | None = None,
    asks_for: tuple[str, ...] | list[str] = (),
    purpose: str = "",
) -> dict[str, Any]:
    """An introducee's ``response`` on thread ``thid``. An approval usually carries ``invitation`` (an RFC 0434
    invitation message) for the introducer to deliver; a refusal carries nothing else."""
    body = new_message(INTRODUCE_RESPONSE, approve=bool(approve), **{"~thread": thread(thid)})
    if approve and invitation is not None:
        body["invitation"] = invitation
    if approve and asks_for:
        body["asks_for"] = list(asks_for)
    if approve and purpose:
        body["purpose"] = purpose
    return body


def delivered_invitation(invitation: dict[str, Any], *, thid: str) -> dict[str, Any]:
    """The invitation as the introducer hands it to the other introducee: unchanged but for ``~thread.pthid``,
    the introduction it belongs to (RFC 0028, ``connection-invitation``)."""
    delivered = copy.deepcopy(invitation)
    delivered["~thread"] = {"pthid": thid}
    return delivered


def declined(*, thid: str) -> dict[str, Any]:
    """What the introducer tells the introducee who approved when the other one declined: a problem report on
    the introduction's thread. Built from the thread id alone, so it cannot carry anything about who declined."""
    return problem_report(
        thid=thid,
        code=DECLINED,
        explanation="The introduction was declined. The invitation you sent will not be used.",
        key=INTRODUCE_PROBLEM_REPORT,
    )


def ack(*, thid: str, status: str = ACK_OK) -> dict[str, Any]:
    """RFC 0015 ack adopted into the family: the introduction was delivered (``OK``)."""
    if status not in (ACK_OK, ACK_FAIL, ACK_PENDING):
        raise IntroduceError(f"ack status must be OK, FAIL or PENDING, not {status!r}")
    return new_message(INTRODUCE_ACK, status=status, **{"~thread": thread(thid)})


def request(*, please_introduce_to: Descriptor, thing: Thing | None = None) -> dict[str, Any]:
    """A ``request`` for an introduction (outside any state machine: the recipient honours it or not)."""
    body = new_message(INTRODUCE_REQUEST, please_introduce_to=please_introduce_to.as_json(), nwise=False)
    if thing is not None:
        body["thing"] = thing.as_json()
    return body


# -- read -----------------------------------------------------------------------------------------------------


def _of_type(body: object, key: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise IntroduceError("message must be a JSON object")
    message_type = body.get("@type")
    if not isinstance(message_type, str) or message_type_key(message_type) != key:
        raise IntroduceError(f"not an {key} message")
    message_id = body.get("@id")
    if not isinstance(message_id, str) or not message_id:
        raise IntroduceError("message has no @id")
    return body


def _text(value: object, what: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise IntroduceError(f"{what} must be a{' non-empty' if required else ''} string")
    if len(value) > limit:
        raise IntroduceError(f"{what} is longer than {limit} characters")
    return value


def _descriptor(value: object, what: str) -> Descriptor:
    if not isinstance(value, dict):
        raise IntroduceError(f"{what} must be an introducee descriptor (an object with a name)")
    proposed = value.get("proposed")
    if proposed is not None and not isinstance(proposed, bool):
        raise IntroduceError(f"{what}.proposed must be true or false")
    return Descriptor(
        name=_text(value.get("name"), f"{what}.name", NAME_MAX, required=True),
        description=_text(value.get("description"), f"{what}.description", DESCRIPTION_MAX),
        proposed=proposed,
    )


def _thing(value: object) -> Thing | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise IntroduceError("thing must be an object with a did")
    did = _text(value.get("did"), "thing.did", THING_DID_MAX, required=True)
    if not did.startswith("did:"):
        raise IntroduceError("thing.did must be a DID")
    gtin = _text(value.get("gtin"), "thing.gtin", 14)
    if gtin and not GTIN.match(gtin):
        raise IntroduceError("thing.gtin must be a GTIN-14 (14 digits)")
    serial = _text(value.get("serial"), "thing.serial", 20)
    if serial and not SERIAL.match(serial):
        raise IntroduceError("thing.serial must be 1 to 20 characters of the GS1 set")
    return Thing(did=did, gtin=gtin, serial=serial)


def _asks(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > ASKS_MAX:
        raise IntroduceError(f"asks_for must be a list of at most {ASKS_MAX} data kinds")
    for kind in value:
        if not isinstance(kind, str) or not KIND.match(kind):
            raise IntroduceError(
                f"asks_for: {str(kind)[:60]!r} is not a data kind (like readings or readings:temperature)"
            )
    return tuple(dict.fromkeys(value))


def parse_proposal(body: object) -> Proposal:
    body = _of_type(body, INTRODUCE_PROPOSAL)
    nwise = body.get("nwise", False)
    if not isinstance(nwise, bool):
        raise IntroduceError("nwise must be true or false")
    return Proposal(id=body["@id"], to=_descriptor(body.get("to"), "to"), thing=_thing(body.get("thing")), nwise=nwise)


def parse_response(body: object) -> Response:
    """A ``response``: on a thread, ``approve`` a boolean; an approval's ``invitation`` must be a valid RFC 0434
    invitation (an RFC 0160 ``connections/1.0/invitation`` is not taken: we speak DID Exchange only)."""
    body = _of_type(body, INTRODUCE_RESPONSE)
    thid, _ = thread_of(body)
    if not thid:
        raise IntroduceError("response has no ~thread.thid (the proposal it answers)")
    approve = body.get("approve")
    if not isinstance(approve, bool):
        raise IntroduceError("approve must be true or false")
    invitation = None
    if approve and body.get("invitation") is not None:
        try:
            invitation = oob.parse_invitation(body["invitation"])
        except oob.OOBError as exc:
            raise IntroduceError(f"invitation: {exc}") from None
    return Response(
        thid=thid,
        approve=approve,
        invitation=invitation,
        asks_for=_asks(body.get("asks_for")) if approve else (),
        purpose=_text(body.get("purpose"), "purpose", PURPOSE_MAX) if approve else "",
    )


def parse_request(body: object) -> Request:
    body = _of_type(body, INTRODUCE_REQUEST)
    return Request(
        id=body["@id"],
        please_introduce_to=_descriptor(body.get("please_introduce_to"), "please_introduce_to"),
        thing=_thing(body.get("thing")),
    )


def problem_code(body: object) -> str:
    """The RFC 0035 code of a problem report in the family ("" if it has none)."""
    if not isinstance(body, dict):
        return ""
    description = body.get("description")
    code = description.get("code") if isinstance(description, dict) else None
    return code if isinstance(code, str) else ""
