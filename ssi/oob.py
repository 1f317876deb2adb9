"""Out-of-band invitations (Aries RFC 0434, out-of-band 1.1): build and parse.

An invitation is a JSON message::

    {"@type": "https://didcomm.org/out-of-band/1.1/invitation", "@id": "...", "label": "...",
     "handshake_protocols": ["https://didcomm.org/didexchange/1.1", "https://didcomm.org/didexchange/1.0"],
     "accept": ["didcomm/aip1", "didcomm/aip2;env=rfc19"],
     "services": [{"id": "#inline", "type": "did-communication",
                   "recipientKeys": ["did:key:z6Mk…#z6Mk…"], "routingKeys": [], "serviceEndpoint": "https://…"}]}

sent as a URL whose ``oob`` query parameter is the base64url of that JSON (RFC 0434, "Standard Invitation
Encoding"). ``services`` holds inline service blocks or DIDs (a string each); the receiver resolves a DID
itself, so parsing keeps it as it is.

Every failure to parse raises :class:`OOBError`, and nothing else. No Django here: ssi is a plain library.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ssi.didkey import key_url, verify_key_from_did_key
from ssi.errors import SSIError
from ssi.keys import VerifyKey
from ssi.multibase import b58encode, b64url_decode, b64url_encode

DIDCOMM_PREFIX = "https://didcomm.org/"
# RFC 0348: agents must still accept the old prefix on receipt.
LEGACY_PREFIX = "did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/"
INVITATION_TYPE = DIDCOMM_PREFIX + "out-of-band/1.1/invitation"
DIDEXCHANGE_11 = DIDCOMM_PREFIX + "didexchange/1.1"
DIDEXCHANGE_10 = DIDCOMM_PREFIX + "didexchange/1.0"
ACCEPT = ("didcomm/aip1", "didcomm/aip2;env=rfc19")
INLINE_SERVICE_TYPE = "did-communication"

# An invitation in a URL or QR is small; a bigger one is not an invitation we want to parse.
MAX_ENCODED_CHARS = 16_384


class OOBError(SSIError):
    """An invitation is malformed (the one error the parse functions raise)."""


@dataclass(frozen=True)
class InlineService:
    """An inline ``did-communication`` service block."""

    id: str
    recipient_keys: tuple[str, ...]
    """did:key URLs, as written."""
    service_endpoint: str
    routing_keys: tuple[str, ...] = ()

    @property
    def recipient_verkeys(self) -> tuple[str, ...]:
        """The recipient keys as base58 verkeys, as the RFC 0019 envelope names them."""
        return tuple(b58encode(verify_key_from_did_key(key).raw) for key in self.recipient_keys)


@dataclass(frozen=True)
class Invitation:
    id: str
    label: str
    handshake_protocols: tuple[str, ...]
    services: tuple[InlineService | str, ...]
    accept: tuple[str, ...] = ()
    goal_code: str | None = None
    goal: str | None = None
    message: dict[str, Any] = field(default_factory=dict, compare=False)
    """The invitation as received."""


# -- build ------------------------------------------------------------------


def build_invitation(
    *,
    label: str,
    recipient_key: VerifyKey,
    service_endpoint: str,
    handshake_protocols: Sequence[str] = (DIDEXCHANGE_11, DIDEXCHANGE_10),
    invitation_id: str | None = None,
    goal_code: str | None = None,
    goal: str | None = None,
) -> dict[str, Any]:
    """An out-of-band 1.1 invitation with one inline service naming ``recipient_key`` as a did:key URL."""
    message: dict[str, Any] = {
        "@type": INVITATION_TYPE,
        "@id": invitation_id or str(uuid.uuid4()),
        "label": label,
        "handshake_protocols": list(handshake_protocols),
        "accept": list(ACCEPT),
        "services": [
            {
                "id": "#inline",
                "type": INLINE_SERVICE_TYPE,
                "recipientKeys": [key_url(recipient_key)],
                "routingKeys": [],
                "serviceEndpoint": service_endpoint,
            }
        ],
    }
    if goal_code is not None:
        message["goal_code"] = goal_code
    if goal is not None:
        message["goal"] = goal
    return message


def invitation_url(invitation: dict[str, Any], base_url: str) -> str:
    """``base_url?oob=<base64url JSON>`` (RFC 0434: the URL's other parts are the sender's choice)."""
    if "?" in base_url or "#" in base_url:
        raise OOBError("base URL must have no query or fragment")
    encoded = b64url_encode(json.dumps(invitation, separators=(",", ":")).encode("utf-8"))
    return f"{base_url}?oob={encoded}"


# -- parse ------------------------------------------------------------------


def _b64url(text: str) -> bytes:
    """base64url, padded or not (agents differ)."""
    try:
        return b64url_decode(text, padded_ok=True)
    except SSIError as exc:
        raise OOBError(f"oob parameter: {exc}") from None


def parse_url(url: str) -> Invitation:
    """The invitation in an ``…?oob=…`` URL."""
    if not isinstance(url, str):
        raise OOBError("invitation URL must be a string")
    try:
        query = urlsplit(url.strip()).query
    except ValueError:
        raise OOBError("not a URL") from None
    values = parse_qs(query).get("oob")
    if not values:
        raise OOBError("URL has no oob parameter")
    if len(values) > 1:
        raise OOBError("URL has more than one oob parameter")
    if len(values[0]) > MAX_ENCODED_CHARS:
        raise OOBError("invitation is too large")
    try:
        message = json.loads(_b64url(values[0]))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise OOBError("oob parameter is not JSON") from None
    return parse_invitation(message)


def _strings(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise OOBError(f"{what} must be a list of non-empty strings")
    return tuple(value)


def _optional_str(message: dict[str, Any], name: str) -> str | None:
    value = message.get(name)
    if value is not None and not isinstance(value, str):
        raise OOBError(f"{name} must be a string")
    return value


def _service(value: object) -> InlineService | str:
    if isinstance(value, str):
        if not value.startswith("did:"):
            raise OOBError("a service given as a string must be a DID")
        return value
    if not isinstance(value, dict):
        raise OOBError("each service must be a DID or an inline service object")
    service_id = value.get("id")
    if not isinstance(service_id, str) or not service_id:
        raise OOBError("inline service needs an id")
    if value.get("type") != INLINE_SERVICE_TYPE:
        raise OOBError(f"inline service type must be {INLINE_SERVICE_TYPE!r}")
    recipient_keys = _strings(value.get("recipientKeys"), "recipientKeys")
    if not recipient_keys:
        raise OOBError("inline service needs at least one recipient key")
    routing_keys = _strings(value.get("routingKeys", []), "routingKeys")
    for key in recipient_keys + routing_keys:
        try:
            verify_key_from_did_key(key)
        except SSIError:
            raise OOBError(f"service key is not an Ed25519 did:key: {key[:80]!r}") from None
    endpoint = value.get("serviceEndpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise OOBError("inline service needs a serviceEndpoint URL")
    return InlineService(
        id=service_id, recipient_keys=recipient_keys, service_endpoint=endpoint, routing_keys=routing_keys
    )


def parse_invitation(message: object) -> Invitation:
    """Validate an invitation message (already JSON-decoded)."""
    if not isinstance(message, dict):
        raise OOBError("invitation must be a JSON object")
    message_type = message.get("@type")
    if not isinstance(message_type, str):
        raise OOBError("invitation has no @type")
    for prefix in (DIDCOMM_PREFIX, LEGACY_PREFIX):
        if message_type.startswith(prefix):
            message_type = message_type[len(prefix) :]
            break
    else:
        raise OOBError(f"unknown @type {message_type[:80]!r}")
    # RFC 0003 semver: any 1.x of the protocol is read as 1.1 (unknown members ignored).
    family, _, rest = message_type.partition("/")
    version, _, name = rest.partition("/")
    if family != "out-of-band" or not version.startswith("1.") or name != "invitation":
        raise OOBError(f"not an out-of-band 1.x invitation: {message_type[:80]!r}")
    invitation_id = message.get("@id")
    if not isinstance(invitation_id, str) or not invitation_id:
        raise OOBError("invitation has no @id")
    label = message.get("label", "")
    if not isinstance(label, str):
        raise OOBError("label must be a string")
    handshake_protocols = _strings(message.get("handshake_protocols", []), "handshake_protocols")
    # RFC 0434: at least one of handshake_protocols and requests~attach must be present.
    if not handshake_protocols and not message.get("requests~attach"):
        raise OOBError("invitation has neither handshake_protocols nor requests~attach")
    services = message.get("services")
    if not isinstance(services, list) or not services:
        raise OOBError("invitation needs at least one service")
    return Invitation(
        id=invitation_id,
        label=label,
        handshake_protocols=handshake_protocols,
        services=tuple(_service(service) for service in services),
        accept=_strings(message.get("accept", []), "accept"),
        goal_code=_optional_str(message, "goal_code"),
        goal=_optional_str(message, "goal"),
        message=message,
    )
