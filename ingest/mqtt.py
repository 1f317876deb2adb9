"""The MQTT bridge: signed readings published to `thingstead/<source-id>/readings` go through the same
verification, mapping and storage as the webhook (ingest.receive.receive_message).

Two ways to carry the Standard Webhooks headers, so a message is signed exactly like a webhook (HMAC-SHA256 over
`id.timestamp.body` under the source's `whsec_` secret):

- MQTT 5: the payload is the body; `webhook-id`, `webhook-timestamp` and `webhook-signature` are user properties.
- MQTT 3.1.1 (no user properties): the payload is a JSON envelope
  `{"webhook-id": "msg_1", "webhook-timestamp": 1763700000, "webhook-signature": "v1,<base64>",
  "payload": "<the body, as a JSON string>"}`; the signature is over the UTF-8 bytes of the `payload` string.

Delivery guarantees: the bridge subscribes with QoS 1 in a persistent session (fixed client id, clean start off, a
session expiry), so messages published while it is down wait at the broker. It acknowledges (PUBACK) a message only
after receive_message answered: a 2xx means the readings are committed; a 4xx (bad signature, bad payload, unknown
source, over the rate limit) will never succeed, so it is acknowledged and logged. A 503 (database unavailable) is
not acknowledged: the bridge stops taking messages, disconnects and reconnects after a backoff, and the broker
delivers every unacknowledged message again (MQTT 5 §4.4: unacknowledged QoS 1 messages are resent on reconnect,
not within a session). A repeated message is harmless: the webhook id makes storage idempotent. Readings for a thing
on its way to another host (issue 18), which the webhook answers with a 503 to retry, are left out and named here
like a moved thing's (acknowledged): holding the bridge for one thing would hold every source.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.parsers import JSONRefused, loads
from ingest.receive import (
    MAX_BODY,
    Answer,
    database_unavailable,
    elsewhere,
    error,
    find_source,
    not_found,
    receive_message,
    too_large,
)
from ssi import webhooks

log = logging.getLogger(__name__)

TOPIC_FILTER = "thingstead/+/readings"
CLIENT_ID = "thingstead-mqtt-bridge"
# How long the broker keeps the bridge's session (subscription and queued messages) while it is away: a week.
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
HEADERS = (webhooks.ID_HEADER, webhooks.TIMESTAMP_HEADER, webhooks.SIGNATURE_HEADER)
# An envelope escapes its body (quotes, backslashes), so it may be larger than the 1 MiB a body may be.
MAX_ENVELOPE = 2 * MAX_BODY + 4096


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def broker_from_url(url: str) -> Broker:
    """`mqtt://[user:password@]host[:port]` (default port 1883) or `mqtts://…` (TLS, default port 8883)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ImproperlyConfigured(f"MQTT_URL is mqtt://host:port or mqtts://host:port, not {url!r}")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ImproperlyConfigured("MQTT_URL has an invalid port") from None
    return Broker(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class EnvelopeError(ValueError):
    """An MQTT 3.1.1 message is not a valid signed envelope (answered like a malformed webhook: 400)."""


def source_id_of(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "thingstead" and parts[2] == "readings" and parts[1]:
        return parts[1]
    return None


def unpack(payload: bytes, user_properties: list[tuple[str, str]] | None) -> tuple[dict[str, str], bytes]:
    """The Standard Webhooks headers and the signed body of one MQTT message (see the module docstring)."""
    headers = {name.lower(): value for name, value in user_properties or [] if name.lower() in HEADERS}
    if headers:
        return headers, payload
    try:
        # loads(): `[[[[…` 100,000 deep raised RecursionError here, before any signature check, and ended the bridge.
        envelope = loads(payload)
    except ValueError as exc:
        detail = f" ({exc})" if isinstance(exc, JSONRefused) else ""
        raise EnvelopeError(f"Without MQTT 5 user properties the message is a JSON envelope{detail}.") from None
    if not isinstance(envelope, dict):
        raise EnvelopeError("The envelope is a JSON object.")
    body = envelope.get("payload")
    if not isinstance(body, str):
        raise EnvelopeError("The envelope's payload is the signed body as a JSON string.")
    headers = {}
    for name in HEADERS:
        value = envelope.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and not isinstance(value, str):
            raise EnvelopeError(f"The envelope's {name} is a string.")
        if value is not None:
            headers[name] = value
    try:
        return headers, body.encode()
    except UnicodeEncodeError:  # "\ud800" in the JSON: no UTF-8 bytes were ever signed as that text
        raise EnvelopeError("The envelope's payload is not valid Unicode text (it holds a lone surrogate).") from None


def handle(
    *, topic: str, payload: bytes, user_properties: list[tuple[str, str]] | None, now: float
) -> tuple[str, Answer]:
    """The message's webhook-id (unverified, for the log; "-" if there is none) and the answer receive_message gives
    it. Never raises for a bad message or a database outage."""
    webhook_id, headers, body, problem = "-", {}, b"", None
    if len(payload) <= MAX_ENVELOPE:
        try:
            headers, body = unpack(payload, user_properties)
        except EnvelopeError as exc:
            problem = exc
        webhook_id = headers.get(webhooks.ID_HEADER, webhook_id)[: webhooks.MAX_ID_LENGTH]
    # The same order as the webhook: unknown source (404), size (413), then the message itself.
    try:
        source = find_source(source_id_of(topic) or "", headers.get(webhooks.ID_HEADER), live=True)
    except (OperationalError, InterfaceError):
        return webhook_id, database_unavailable()
    if source is None:
        return webhook_id, not_found()
    # A source whose things all moved (or are arriving): as the webhook answers it (a 308 naming the new host's
    # hook URL, acknowledged: the broker cannot redirect).
    if (moved := elsewhere(source, f"/hooks/{source.public_id}")) is not None:
        return webhook_id, moved
    if len(payload) > MAX_ENVELOPE:
        return webhook_id, too_large()
    if problem is not None:
        return webhook_id, error(400, str(problem), {"pointer": ""})
    # Not a 503 for a thing on its way to another host: that would hold every source's messages (see above).
    return webhook_id, receive_message(source=source, headers=headers, body=body, now=now, retry_leaving=False)


class Bridge:
    """Subscribes, hands each message to :func:`handle`, acknowledges or holds it; reconnects with backoff.

    `run()` blocks until `stop` is set; everything (network, database) happens in the calling thread, so one
    message is finished (committed and acknowledged, or left unacknowledged) before the next is read, and a stop
    never interrupts a transaction. `on_answer(topic, webhook_id, answer, acked)` is called after each message.
    """

    def __init__(
        self,
        *,
        broker: Broker,
        stop: threading.Event,
        client_id: str = CLIENT_ID,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        keepalive: int = 30,
        on_answer: Callable[[str, str, Answer, bool], Any] | None = None,
    ) -> None:
        self.broker = broker
        self.stop = stop
        self.client_id = client_id
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.keepalive = keepalive
        self.on_answer = on_answer
        self.connected = threading.Event()
        self._hold = False
        self._db_backoff = min_backoff
        self._client = self._make_client()

    def _make_client(self) -> paho.Client:
        client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if self.broker.tls:
            client.tls_set()
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def run(self) -> None:
        try:
            self._run()
        finally:
            # An unexpected error outside a message (one message's is answered and acknowledged: _on_message) ends
            # the process (its supervisor restarts it); unacknowledged messages stay with the broker either way.
            if self.connected.is_set():
                self._client.disconnect()
            self.connected.clear()
            # The connection belongs to this thread: close it here, or it stays open after the thread is gone.
            connections.close_all()
            log.info("mqtt: bridge stopped")

    def _run(self) -> None:
        connect_backoff = self.min_backoff
        self._db_backoff = self.min_backoff
        while not self.stop.is_set():
            if not self._connect():
                log.warning("mqtt: broker %s:%s unreachable; retrying in %.1f s", *self._where(), connect_backoff)
                self.stop.wait(connect_backoff)
                connect_backoff = min(connect_backoff * 2, self.max_backoff)
                continue
            connect_backoff = self.min_backoff
            held = self._pump()
            if self.connected.is_set():
                self._client.disconnect()
            self.connected.clear()
            if self.stop.is_set():
                break
            if held:
                # The database is down: the message stays with the broker, which sends it again on reconnect.
                log.warning("mqtt: database unavailable; reconnecting in %.1f s for redelivery", self._db_backoff)
                self.stop.wait(self._db_backoff)
                self._db_backoff = min(self._db_backoff * 2, self.max_backoff)
            else:
                log.warning("mqtt: connection to %s:%s lost; reconnecting", *self._where())
                self.stop.wait(self.min_backoff)

    def _where(self) -> tuple[str, int]:
        return self.broker.host, self.broker.port

    def _connect(self) -> bool:
        """Connect and wait for the CONNACK; False if the broker cannot be reached or refuses."""
        self._hold = False
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        try:
            self._client.connect(
                self.broker.host,
                self.broker.port,
                keepalive=self.keepalive,
                clean_start=False,
                properties=properties,
            )
        except OSError:
            return False
        deadline = time.monotonic() + 10
        while not self.connected.is_set() and time.monotonic() < deadline and not self.stop.is_set():
            if self._client.loop(timeout=0.1) != paho.MQTT_ERR_SUCCESS:
                return False
        return self.connected.is_set()

    def _pump(self) -> bool:
        """Run the network loop until the connection drops, `stop` is set or a message must be redelivered
        (returns True then)."""
        while not self.stop.is_set() and not self._hold:
            if self._client.loop(timeout=0.2) != paho.MQTT_ERR_SUCCESS:
                return False
        return self._hold

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("mqtt: broker refused the connection: %s", reason_code)
            return
        log.info(
            "mqtt: connected to %s:%s as %s (session %s)",
            *self._where(),
            self.client_id,
            "resumed" if flags.session_present else "new",
        )
        # Subscribing again on a resumed session is harmless, and recreates a session the broker has lost.
        client.subscribe(TOPIC_FILTER, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        # Ready only once the broker confirmed the subscription: on a new session, a message published before the
        # SUBACK has no subscriber to go to.
        if any(code.is_failure for code in reason_codes):
            log.error("mqtt: broker refused the subscription to %s: %s", TOPIC_FILTER, reason_codes)
            return
        self.connected.set()

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        if self._hold:
            return  # after a 503 nothing more is taken before the reconnect; the broker keeps it all
        properties = message.properties
        user_properties = getattr(properties, "UserProperty", None) if properties is not None else None
        close_old_connections()
        try:
            webhook_id, answer = handle(
                topic=message.topic, payload=message.payload, user_properties=user_properties, now=time.time()
            )
        except Exception as exc:
            # One message must not end the bridge: paho re-raises, run() ends, and the broker delivers the same
            # message first after each restart (a crash loop holding every source's readings). It is answered as
            # a 500 and acknowledged (dropped), like any message that will never succeed.
            webhook_id, answer = "-", error(500, "The bridge could not handle this message.")
            self._log_unexpected(message.topic, exc)
        finally:
            close_old_connections()
        acked = answer.status != 503
        if acked:
            client.ack(message.mid, message.qos)
        else:
            self._hold = True
        if answer.ok:
            self._db_backoff = self.min_backoff
        self._log(message.topic, webhook_id, answer, acked)
        if self.on_answer is not None:
            self.on_answer(message.topic, webhook_id, answer, acked)

    def _log_unexpected(self, topic: str, exc: Exception) -> None:
        # The frames and the exception's type, not its text: that may quote the payload (and a payload may hold a
        # secret); the frames show only source lines.
        log.error(
            "mqtt: source %s: unexpected %s handling a message; acknowledged as a 500 (dropped)\n%s",
            source_id_of(topic) or topic,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
        )

    def _log(self, topic: str, webhook_id: str, answer: Answer, acked: bool) -> None:
        source = source_id_of(topic) or topic
        if answer.ok:
            log.info(
                "mqtt: source %s, webhook-id %r: %s, stored %s",
                source,
                webhook_id,
                answer.status,
                answer.body.get("stored"),
            )
        elif acked:
            # The reason is the answer's message: never the secret, never the payload.
            log.warning(
                "mqtt: source %s, webhook-id %r: %s, dropped: %s",
                source,
                webhook_id,
                answer.status,
                answer.body.get("message"),
            )
        else:
            log.warning(
                "mqtt: source %s, webhook-id %r: %s, not acknowledged: %s",
                source,
                webhook_id,
                answer.status,
                answer.body.get("message"),
            )
