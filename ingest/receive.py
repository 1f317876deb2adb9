"""Receiving one signed message from a source, whatever carried it (HTTP webhook or MQTT).

A transport finds the source, reads the body and the Standard Webhooks headers, and hands them to
:func:`receive_message`; the :class:`Answer` it gets back is an HTTP status, a JSON body and an optional
`Retry-After`. The MQTT bridge maps the same statuses to acknowledging (2xx, 4xx) or not (503).

Order: size (413) → verify id, timestamp and signature (400/401, SECURITY 29-30) → a retry of an accepted message
gets the first answer (SECURITY 32) → per-source rate limit (429) → map the payload (400 with the JSON Pointer of the
bad field; 413 above 1,000 readings) → store everything in one transaction (2xx only after commit). The database
being unavailable anywhere is a 503.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import InterfaceError, OperationalError

from config.ratelimit import hit
from ingest import mapping as payload_mapping
from ingest.models import Source
from ingest.services import delivery_store, replay_of, resolve_readings, source_for_message
from ingest.store import ThingChanged
from ssi import vault, webhooks
from twins.history import TwinDeactivated

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
DB_RETRY_AFTER = 30
# Source.public_id is at most 32 characters: a longer id is unknown without asking the database.
MAX_SOURCE_ID = 32


@dataclass(frozen=True)
class Answer:
    """What the sender is told: an HTTP status, the `{"message", "extra"}` or `{"stored", "webhook_id"}` body, and
    for 429 and 503 the seconds to wait before retrying."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def error(status: int, message: str, extra: dict | None = None, retry_after: int | None = None) -> Answer:
    return Answer(status, {"message": message, "extra": extra or {}}, retry_after)


def not_found() -> Answer:
    # The same body as any unknown API route (config/exceptions.py), so an id cannot be probed.
    return error(404, "Not found.")


def too_large() -> Answer:
    return error(413, "The request is too large: at most 1 MiB.", {"limit_bytes": MAX_BODY})


def database_unavailable() -> Answer:
    return error(503, "The database is unavailable; retry later.", retry_after=DB_RETRY_AFTER)


def find_source(public_id: str, webhook_id: str | None = None) -> Source | None:
    """The source a hook URL or an MQTT topic names; None if unknown. May raise the database's errors. Read fresh
    for every message: a rotated secret or a deleted source takes effect at once. `webhook_id`: the message's
    (unverified) id, whose first answer, if any, comes in the same query (used only once the signature verifies)."""
    if not public_id or len(public_id) > MAX_SOURCE_ID or not public_id.isprintable():
        return None
    if webhook_id is not None and (len(webhook_id) > webhooks.MAX_ID_LENGTH or not webhook_id.isprintable()):
        webhook_id = None  # verification refuses it anyway; it must not reach the database (a NUL would fail there)
    return source_for_message(public_id, webhook_id)


def receive_message(*, source: Source, headers: Mapping[str, str], body: bytes, now: float) -> Answer:
    """Verify, deduplicate, rate-limit, map and store one message of `source`.

    `headers`: the Standard Webhooks headers (names matched case-insensitively); `body`: the raw signed bytes;
    `now`: the receiver's Unix time. Never raises for a bad message or an unavailable database: every outcome is
    an :class:`Answer`, and a 2xx means the readings are committed.
    """
    try:
        return _receive(source=source, headers=headers, body=body, now=now)
    except (OperationalError, InterfaceError):
        log.warning("message for source %s: database unavailable", source.public_id)
        return database_unavailable()


def _receive(*, source: Source, headers: Mapping[str, str], body: bytes, now: float) -> Answer:
    if len(body) > MAX_BODY:
        return too_large()
    try:
        secrets = source.secrets()
    except vault.VaultError:
        log.error("webhook source %s: its secret does not open under KEY_ENCRYPTION_KEY", source.pk)
        return error(503, "This source cannot verify messages right now.", retry_after=DB_RETRY_AFTER)
    try:
        webhook_id = webhooks.verify(secrets, headers, body, now)
    except webhooks.WebhookHeaderError as exc:
        return error(400, f"Malformed webhook headers: {exc}.")
    except webhooks.WebhookVerificationError as exc:
        return error(401, f"The message is not authentic: {exc}.")

    first = replay_of(source=source, webhook_id=webhook_id)
    if first is not None:
        return Answer(first.status, first.body)

    retry_after = hit("hook", source.public_id, source.rate_limit)
    if retry_after is not None:
        return error(429, "Too many messages for this source; slow down.", retry_after=retry_after)

    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return error(400, "The body is not JSON.", {"pointer": ""})
    except RecursionError:  # a signed but absurdly nested body ([[[[…)
        return error(400, "The body is nested too deeply to be a payload.", {"pointer": ""})
    received = datetime.fromtimestamp(now, UTC)
    try:
        raw = payload_mapping.extract(payload, payload_mapping.clean_mapping(source.mapping), now=received)
        readings = resolve_readings(source=source, raw=raw, now=received)
    except payload_mapping.TooManyReadings as exc:
        return error(413, str(exc), {"limit_readings": payload_mapping.MAX_READINGS})
    except payload_mapping.PayloadError as exc:
        return error(400, exc.message, {"pointer": exc.pointer})
    except payload_mapping.PointerSyntaxError as exc:
        return error(400, f"The source's mapping is invalid: {exc}.", {"pointer": ""})

    try:
        outcome = delivery_store(source=source, webhook_id=webhook_id, readings=readings)
    except (TwinDeactivated, ThingChanged) as exc:
        return error(409, str(exc))
    return Answer(outcome.status, outcome.body)
