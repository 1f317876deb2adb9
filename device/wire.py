"""The wire formats of docs/devices.md, one function each: what a device sends and how it reads the answer.

- A reading: ``{"thing", "kind", "value", "unit", "time", "signature", "key"}``. The device signature is Ed25519
  over the JCS (RFC 8785) form of the members ``thing``, ``kind``, ``value``, ``unit``, ``time`` the reading gives
  (``time`` always: the server refuses a signed reading without it; ``signature`` and ``key`` are not covered),
  sent as multibase base64url (``u`` + base64url without padding); ``key`` is the device's Multikey (``z6Mk…``).
  The server stores a signature once per thing: the same signed reading sent again is left out (a 200 naming it in
  ``refused``).
- A message body: ``{"readings": [reading, …]}`` (at most 1,000 readings and 1 MiB), UTF-8 JSON.
- HTTP: ``POST /hooks/<source-id>`` with the Standard Webhooks headers ``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` under the source's ``whsec_`` secret.
- MQTT 5: QoS 1 to ``thingstead/<source-id>/readings``, the body as payload, the three headers as user properties.
- MQTT 3.1.1: the same topic, payload ``{"webhook-id", "webhook-timestamp", "webhook-signature", "payload"}`` where
  ``payload`` is the body as a JSON string, signed over ``id.timestamp.`` + the UTF-8 bytes of that string.

The webhook-id is fixed when a message is first put together and reused by every retry (the server stores a
message once per id and answers a retry with its first answer); the timestamp and so the signature are made
afresh at each attempt, since the server refuses a timestamp more than 5 minutes from its clock.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ssi import jcs, webhooks
from ssi.keys import SigningKey
from ssi.multibase import b64url_encode

SIGNED_MEMBERS = ("thing", "kind", "value", "unit", "time")
MAX_READINGS = 1000
MAX_BODY = 1024 * 1024


def topic(source_id: str) -> str:
    return f"thingstead/{source_id}/readings"


def hook_path(source_id: str) -> str:
    return f"/hooks/{source_id}"


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def rfc3339(moment: datetime) -> str:
    """UTC with microseconds and a Z, e.g. 2026-11-21T10:00:00.250000Z (the server accepts any RFC 3339 time)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def signed_object(reading: dict[str, Any]) -> dict[str, Any]:
    """What a device signature covers: the reading's thing, kind, value, unit and time members that it has."""
    return {name: reading[name] for name in SIGNED_MEMBERS if name in reading}


def device_sign(reading: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The reading with ``signature`` (multibase base64url of Ed25519 over JCS(signed object)) and ``key``. The
    reading must give its time: the server refuses a signed reading without one (400 naming ``time``), since its
    signature could otherwise be stored again at any later time; with it, a copy sent again is stored once."""
    if reading.get("time") is None:
        raise ValueError("a device-signed reading gives the time it was measured")
    signature = key.sign(jcs.canonicalize(signed_object(reading)))
    return {**reading, "signature": "u" + b64url_encode(signature), "key": key.multibase}


def reading(
    value: float | int,
    *,
    time: datetime | str,
    thing: str | None = None,
    kind: str | None = None,
    unit: str | None = None,
    key: SigningKey | None = None,
) -> dict[str, Any]:
    """One reading object, device-signed when `key` is given. Members left as None are left out (the server then
    uses the thing's defaults); `time` is the moment of measurement, kept through any queueing."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("a reading's value is a number")
    out: dict[str, Any] = {}
    if thing is not None:
        out["thing"] = thing
    if kind is not None:
        out["kind"] = kind
    out["value"] = value
    if unit is not None:
        out["unit"] = unit
    out["time"] = time if isinstance(time, str) else rfc3339(time)
    return device_sign(out, key) if key is not None else out


def reading_json(item: dict[str, Any]) -> bytes:
    """One reading as it goes into a body: compact UTF-8 JSON."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def body_of(readings_json: list[bytes]) -> bytes:
    """``{"readings":[…]}`` from readings already in JSON form (as the queue keeps them)."""
    return b'{"readings":[' + b",".join(readings_json) + b"]}"


def http_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` (Standard Webhooks v1) and the content type."""
    return {**webhooks.headers_for(secret, webhook_id, timestamp, body), "content-type": "application/json"}


def mqtt5_user_properties(secret: str, webhook_id: str, timestamp: int, body: bytes) -> list[tuple[str, str]]:
    """The MQTT 5 user properties of a message whose payload is `body`: the same three headers as over HTTP."""
    return list(webhooks.headers_for(secret, webhook_id, timestamp, body).items())


def mqtt311_envelope(secret: str, webhook_id: str, timestamp: int, body: bytes) -> bytes:
    """The MQTT 3.1.1 payload: the headers and the body (as a JSON string) in one JSON object. The signature covers
    the UTF-8 bytes of that string, which are `body` itself."""
    text = body.decode()
    return json.dumps(
        {
            webhooks.ID_HEADER: webhook_id,
            webhooks.TIMESTAMP_HEADER: timestamp,
            webhooks.SIGNATURE_HEADER: webhooks.sign(secret, webhook_id, timestamp, text.encode()),
            "payload": text,
        },
        ensure_ascii=False,
    ).encode()


# --- Answers ---------------------------------------------------------------------------------------------------

SENT = "sent"  # stored (2xx); a retry of a stored message gets the same answer
RETRY = "retry"  # try the same message (same webhook-id) again later: network error, 5xx, 408
SLOW_DOWN = "slow down"  # 429 or 503: wait at least Retry-After, then the same message again
DROP = "drop"  # the message itself is refused (400, 409, 413): retrying cannot help; set it aside and log it
STOP = "stop"  # the device's setup is wrong (401 secret or clock, 404 source id): stop sending, keep the queue

# What a device does with each answer (docs/devices.md, "Answers and what a device does"; a test holds the two to
# each other). Anything not listed: 2xx is SENT, other 5xx RETRY, other 4xx STOP (an answer the device does not
# understand must not cost it its data).
ACTIONS = {
    200: SENT,
    400: DROP,
    401: STOP,
    404: STOP,
    408: RETRY,
    409: DROP,
    413: DROP,
    429: SLOW_DOWN,
    503: SLOW_DOWN,
}


def action_for(status: int) -> str:
    if status in ACTIONS:
        return ACTIONS[status]
    if 200 <= status < 300:
        return SENT
    if status >= 500:
        return RETRY
    return STOP


@dataclass(frozen=True)
class Answer:
    """The server's answer to one message (over MQTT: the broker's PUBACK, which is all a device is told).

    `status` is None for a network error (nothing came back: the message may or may not have been stored, so it
    is sent again with the same webhook-id). `retry_after`: seconds, from the Retry-After header."""

    status: int | None
    body: dict[str, Any]
    retry_after: float | None = None
    error: str = ""

    @property
    def action(self) -> str:
        return RETRY if self.status is None else action_for(self.status)

    @property
    def message(self) -> str:
        if self.status is None:
            return self.error or "network error"
        text = self.body.get("message") if isinstance(self.body, dict) else None
        return f"{self.status} {text}" if text else str(self.status)

    @property
    def pointer(self) -> str | None:
        """The JSON Pointer of the bad field of a 400 (``extra.pointer``), if any."""
        extra = self.body.get("extra") if isinstance(self.body, dict) else None
        return extra.get("pointer") if isinstance(extra, dict) else None


def bad_reading_index(pointer: str | None) -> int | None:
    """The index N of a 400 whose pointer is ``/readings/N`` or ``/readings/N/…``: that reading alone is bad."""
    if not pointer or not pointer.startswith("/readings/"):
        return None
    token = pointer.split("/")[2]
    return int(token) if token.isdigit() else None
