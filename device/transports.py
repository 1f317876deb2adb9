"""Carrying one sealed message to Thingstead: HTTP (the ingest gateway or the web app's /hooks/), MQTT 5 or MQTT 3.1.1.

Each transport's ``send(webhook_id, body)`` signs the body with a fresh timestamp and returns a
:class:`device.wire.Answer`; it never raises for a network problem (that is an answer with no status: send again).
Over MQTT the answer is the broker's PUBACK: the broker has the message and the MQTT bridge will store it, but a
message the bridge then refuses (bad signature, unknown source, over the rate limit) is only logged on the server.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from typing import Protocol
from urllib.parse import unquote, urlsplit

from device import wire
from device.config import Config


class Transport(Protocol):
    def send(self, webhook_id: str, body: bytes) -> wire.Answer: ...

    def close(self) -> None: ...


class HttpTransport:
    """POST /hooks/<source-id>, one kept-alive connection (opened again after any error)."""

    def __init__(self, *, server: str, source: str, secret: str, timeout: float = 10.0) -> None:
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the server is an http:// or https:// URL")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.path = parts.path.rstrip("/") + wire.hook_path(source)
        self.secret = secret
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.https:
                self._conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def send(self, webhook_id: str, body: bytes) -> wire.Answer:
        headers = wire.http_headers(self.secret, webhook_id, int(time.time()), body)
        try:
            conn = self._connection()
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            retry_after = response.getheader("retry-after")
            if response.getheader("connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return wire.Answer(None, {}, error=f"{type(exc).__name__}: {exc}")
        try:
            answer = json.loads(payload) if payload else {}
        except ValueError:
            answer = {"message": payload[:200].decode("utf-8", "replace")}  # a proxy's HTML error page
        return wire.Answer(response.status, answer if isinstance(answer, dict) else {}, _seconds(retry_after))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _seconds(value: str | None) -> float | None:
    """Retry-After as seconds (the server sends delta-seconds; an HTTP date is treated as "a while")."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return 60.0


class MqttTransport:
    """QoS 1 publish to thingstead/<source-id>/readings; the answer is the broker's PUBACK (or a timeout)."""

    def __init__(self, *, url: str, source: str, secret: str, version: int = 5, timeout: float = 10.0) -> None:
        import paho.mqtt.client as paho  # only MQTT devices need paho-mqtt

        self._paho = paho
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("the broker is mqtt://host:port or mqtts://host:port")
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.topic = wire.topic(source)
        self.secret = secret
        self.version = version
        self.timeout = timeout
        self.tls = parts.scheme == "mqtts"
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password or "")
        self._connected = threading.Event()
        self._client = None

    def _connect(self):
        """A connected paho client (its network loop in a thread), or None if the broker cannot be reached."""
        if self._client is not None and self._connected.wait(self.timeout):
            return self._client
        self.close()
        paho = self._paho
        client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2,
            protocol=paho.MQTTv5 if self.version == 5 else paho.MQTTv311,
        )
        if self.tls:
            client.tls_set()
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        connected = self._connected = threading.Event()
        client.on_connect = lambda client, userdata, flags, code, properties: (
            None if code.is_failure else connected.set()
        )
        client.on_disconnect = lambda *args: connected.clear()
        try:
            client.connect(self.host, self.port, keepalive=30)
        except OSError:
            return None
        client.loop_start()
        self._client = client
        return client if connected.wait(self.timeout) else None

    def send(self, webhook_id: str, body: bytes) -> wire.Answer:
        client = self._connect()
        if client is None:
            self.close()
            return wire.Answer(None, {}, error=f"the broker {self.host}:{self.port} is unreachable")
        timestamp = int(time.time())
        if self.version == 5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = wire.mqtt5_user_properties(self.secret, webhook_id, timestamp, body)
            info = client.publish(self.topic, body, qos=1, properties=properties)
        else:
            info = client.publish(self.topic, wire.mqtt311_envelope(self.secret, webhook_id, timestamp, body), qos=1)
        try:
            info.wait_for_publish(self.timeout)
            published = info.is_published()
        except (RuntimeError, ValueError):
            published = False
        if not published:
            # Unknown whether the broker has it: our queue sends the same message again (the server stores it once
            # per webhook-id). A fresh client next time, so paho does not also resend its own copy.
            self.close()
            return wire.Answer(None, {}, error="no PUBACK from the broker")
        return wire.Answer(200, {"published": webhook_id})

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        self._connected.clear()


def transport_for(config: Config) -> Transport:
    if config.transport == "http":
        return HttpTransport(server=config.server, source=config.source, secret=config.secret, timeout=config.timeout)
    return MqttTransport(
        url=config.mqtt,
        source=config.source,
        secret=config.secret,
        version=5 if config.transport == "mqtt5" else 4,
        timeout=config.timeout,
    )
