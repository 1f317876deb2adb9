"""Receiving one signed message from a source, whatever carried it (HTTP webhook or MQTT).

A transport finds the source, reads the body and the Standard Webhooks headers, and hands them to
:func:`receive_message`; the :class:`Answer` it gets back is an HTTP status, a JSON body and an optional
`Retry-After`. The MQTT bridge maps the same statuses to acknowledging (2xx, 4xx) or not (503). The ingest gateway
(ingest/gateway.py) hands over every message that arrived meanwhile to :func:`receive_many`, which finds their
sources itself and gives each the answer it would get alone, with one COMMIT for all.

Order: size (413) → verify id, timestamp and signature (400/401, SECURITY 29-30) → a retry of an accepted message gets
the first answer (SECURITY 32) → per-source rate limit (429) → map the payload (400 with the JSON Pointer of the bad
field; 413 above 1,000 readings) → leave out readings for things that do not live here (moved away or still arriving,
issue 18: named in the answer's `refused`; 409 if that is all of them) → a message naming a thing on its way to another
host (ingest.live) is refused whole, 503 with Retry-After, so that its retry after the move stores it all the way a
moved thing's message is stored (the MQTT bridge, whose 503 holds every source, has it treated as a moved thing's
instead) → leave out device-signed readings stored already for their thing, or repeated in the message
(ingest.devices.leave_out_repeats: named in `refused`, still a 2xx) → store everything in one transaction (2xx only
after commit), the things checked again under their row locks (a move committing meanwhile: nothing stored, 409 or 503
in the same words). The database being unavailable anywhere is a 503.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError

from core.ratelimit import hit_many
from ingest import devices, live
from ingest import mapping as payload_mapping
from ingest.models import Source
from ingest.services import (
    delivery_store_many,
    replay_of,
    resolve_readings,
    source_feeds_live,
    source_link_states,
    source_things,
    sources_for_messages,
    things_named,
)
from ssi import vault, webhooks
from twins.leaving import RETRY_AFTER, TwinLeaving
from twins.models import Twin

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
    location: str | None = None  # a 308's Location

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def error(status: int, message: str, extra: dict | None = None, retry_after: int | None = None) -> Answer:
    return Answer(status, {"message": message, "extra": extra or {}}, retry_after)


def not_found() -> Answer:
    # The same body as any unknown API route (core/exceptions.py), so an id cannot be probed.
    return error(404, "Not found.")


def too_large() -> Answer:
    return error(413, "The request is too large: at most 1 MiB.", {"limit_bytes": MAX_BODY})


def not_stored() -> Answer:
    """Nothing of the message was committed, for a reason other than the message (the sender should retry)."""
    return error(503, "The message could not be stored; retry later.", retry_after=DB_RETRY_AFTER)


def database_unavailable() -> Answer:
    return error(503, "The database is unavailable; retry later.", retry_after=DB_RETRY_AFTER)


def not_live(refused: list[dict[str, str]]) -> Answer:
    """Every reading of the message names a thing that does not live here (issue 18: moved to another host, or
    still arriving): 409, nothing stored, each refused reading named with its reason in `extra.refused`. A message
    with readings for live things too stores those and names the refused ones in its 200's `refused`."""
    return error(409, refused[0]["reason"], {"refused": refused})


def elsewhere(source: Source, path: str) -> Answer | None:
    """A source none of whose things lives here (issue 18), answered before its message is even verified: every
    thing it feeds moved to one other host, 308 to `path` there (where the source moved with them:
    ingest.portability; the old host has forgotten its secret by then), or every one is still arriving here (409,
    retried by the sender). None, and no query, for a source found with ``live=True`` that feeds a live thing (or
    none yet)."""
    if source_feeds_live(source):
        return None
    states = source_link_states(source)
    hosts = {moved_to.rstrip("/") for moved_to, _ in states if moved_to}
    if len(hosts) == 1 and all(moved_to for moved_to, _ in states):
        location = hosts.pop() + path
        return Answer(
            308,
            {"message": f"The things of this source have moved: send to {location}.", "extra": {"location": location}},
            location=location,
        )
    if states and all(arriving for _, arriving in states):
        return error(409, "The things of this source are still arriving here: try again shortly.")
    return None


def leaving(refusal: TwinLeaving, refused: list[dict[str, str]] = ()) -> Answer:
    """A thing of the message is on its way to another host (twins.leaving): 503 with Retry-After, nothing of the
    message stored and no record of it kept, so the sender's retry (same webhook-id) is taken afresh."""
    extra = {**refusal.extra, "refused": list(refused)} if refused else refusal.extra
    return error(503, refusal.message, extra, retry_after=RETRY_AFTER)


def receive_message(
    *, source: Source, headers: Mapping[str, str], body: bytes, now: float, retry_leaving: bool = True
) -> Answer:
    """Verify, deduplicate, rate-limit, map and store one message of `source`.

    `headers`: the Standard Webhooks headers (names matched case-insensitively); `body`: the raw signed bytes;
    `now`: the receiver's Unix time. Never raises for a bad message or an unavailable database: every outcome is
    an :class:`Answer`, and a 2xx means the readings are committed. `retry_leaving` False (the MQTT bridge, where a
    503 holds every source's messages until a reconnect): readings for a thing on its way to another host are
    left out and named like a moved thing's, instead of the whole message being a 503 to retry.
    """
    return _answer_all([(source, headers, body, now)], retry_leaving=retry_leaving)[0]


@dataclass(frozen=True)
class Incoming:
    """One message as a transport received it: the source id its URL or topic names, the Standard Webhooks
    headers, the raw body (None: it was larger than MAX_BODY, a 413 once the source is known) and the receiver's
    Unix time."""

    public_id: str
    headers: Mapping[str, str]
    body: bytes | None
    now: float
    path: str = ""  # the request's path and query (a 308 keeps them); "" for /hooks/<public_id>


def receive_many(messages: list[Incoming]) -> list[Answer]:
    """:func:`receive_message` for several messages at once, their answers in the same order, each exactly what it
    would get alone. The sources (and first answers) come in one query, the rate limits in one Redis round trip,
    the things of one source in one query, and everything accepted is stored with one COMMIT
    (ingest.services.delivery_store_many). The ingest gateway hands over what arrived while the last group was
    being stored."""
    try:
        sources = find_sources([(m.public_id, m.headers.get(webhooks.ID_HEADER)) for m in messages], live=True)
    except (OperationalError, InterfaceError):
        log.warning("%d messages: database unavailable", len(messages))
        return [database_unavailable()] * len(messages)
    answers: list[Answer | None] = [None] * len(messages)
    known = []
    for n, (message, source) in enumerate(zip(messages, sources, strict=True)):
        if source is None:
            answers[n] = not_found()
        elif (moved := elsewhere(source, message.path or f"/hooks/{message.public_id}")) is not None:
            answers[n] = moved
        elif message.body is None:
            answers[n] = too_large()
        else:
            known.append((n, (source, message.headers, message.body, message.now)))
    for (n, _), answer in zip(known, _answer_all([item for _, item in known]), strict=True):
        answers[n] = answer
    return answers  # type: ignore[return-value]


def find_sources(wanted: list[tuple[str, str | None]], *, live: bool = False) -> list[Source | None]:
    """:func:`find_source` for several messages: one query for those whose ids may exist."""
    cleaned = []
    for public_id, webhook_id in wanted:
        if not public_id or len(public_id) > MAX_SOURCE_ID or not public_id.isprintable():
            cleaned.append(None)
            continue
        if webhook_id is not None and (len(webhook_id) > webhooks.MAX_ID_LENGTH or not webhook_id.isprintable()):
            webhook_id = None
        cleaned.append((public_id, webhook_id))
    asked = [item for item in cleaned if item is not None]
    found = iter(sources_for_messages(asked, live=live) if asked else [])
    return [None if item is None else next(found) for item in cleaned]


def find_source(public_id: str, webhook_id: str | None = None, *, live: bool = False) -> Source | None:
    """The source a hook URL or an MQTT topic names; None if unknown. May raise the database's errors. Read fresh
    for every message: a rotated secret or a deleted source takes effect at once. `webhook_id`: the message's
    (unverified) id, whose first answer, if any, comes in the same query (used only once the signature verifies).
    `live`: whether the source feeds a thing that lives here comes in the same query too
    (ingest.services.source_feeds_live; the web hook asks)."""
    return find_sources([(public_id, webhook_id)], live=live)[0]


# One message on its way through _answer_all: its source, headers, body and receive time.
_Item = tuple[Source, Mapping[str, str], bytes, float]


def _answer_all(items: list[_Item], *, retry_leaving: bool = True) -> list[Answer]:
    """The answer to each message, in order: every check of each message, then one store for all that passed.

    Order per message: size (413) → verify id, timestamp and signature (400/401, SECURITY 29-30) → a retry of an
    accepted message gets the first answer (SECURITY 32) → per-source rate limit (429) → map the payload (400 with
    the JSON Pointer of the bad field; 413 above 1,000 readings) → store (2xx only after commit, 409 for a
    deactivated thing). The database being unavailable anywhere is a 503 for every message not yet answered.
    """
    answers: list[Answer | None] = [None] * len(items)
    try:
        _answer_into(items, answers, retry_leaving)
    except (OperationalError, InterfaceError):
        log.warning("%d messages: database unavailable", sum(answer is None for answer in answers))
    return [answer or database_unavailable() for answer in answers]


def _answer_into(items: list[_Item], answers: list[Answer | None], retry_leaving: bool) -> None:
    verified = []  # (n, source, webhook_id)
    secrets: dict[tuple, list[str]] = {}  # the sources' secrets, unsealed once per group
    for n, (source, headers, body, now) in enumerate(items):
        outcome = _verify(source, headers, body, now, secrets)
        if isinstance(outcome, Answer):
            answers[n] = outcome
        else:
            verified.append((n, source, outcome))
    if not verified:
        return
    limited = hit_many("hook", [(source.public_id, source.rate_limit) for _, source, _ in verified])
    mapped = []  # (n, source, webhook_id, raw readings, received)
    for (n, source, webhook_id), retry_after in zip(verified, limited, strict=True):
        if retry_after is not None:
            answers[n] = error(429, "Too many messages for this source; slow down.", retry_after=retry_after)
            continue
        _, _, body, now = items[n]
        outcome = _map(source, body, now)
        if isinstance(outcome, Answer):
            answers[n] = outcome
        else:
            mapped.append((n, source, webhook_id, *outcome))
    things = _things_of_sources(mapped)
    resolved = []  # (n, source, webhook_id, readings, refused)
    for n, source, webhook_id, raw, received in mapped:
        refused: list[dict[str, str]] = []
        leaving_things: list[Twin] = []
        try:
            readings = resolve_readings(
                source=source,
                raw=raw,
                now=received,
                things=things.get(source.pk),
                refused=refused,
                leaving=leaving_things,
            )
        except payload_mapping.PayloadError as exc:
            answers[n] = error(400, exc.message, {"pointer": exc.pointer})
            continue
        if leaving_things and retry_leaving:
            answers[n] = leaving(live.leaving_refusal(leaving_things), refused)
            continue
        resolved.append((n, source, webhook_id, readings, refused, raw))
    resolved = _without_repeats(resolved, answers)
    if not resolved:
        return
    outcomes = delivery_store_many([item[1:] for item in resolved])
    for (n, *_), outcome in zip(resolved, outcomes, strict=True):
        if isinstance(outcome, DatabaseError):
            answers[n] = not_stored()
        elif isinstance(outcome, TwinLeaving):  # its move was confirmed while the message was on its way
            answers[n] = leaving(outcome)
        elif isinstance(outcome, live.NotLive):  # it moved (or turned out arriving) meanwhile
            words = f"{outcome.message} Nothing of this message was stored."
            answers[n] = error(409, words, {"thing": outcome.twin.slug})
        elif isinstance(outcome, Exception):
            answers[n] = error(409, str(outcome))  # a deactivated thing, or one that changed hands
        else:
            answers[n] = Answer(outcome.status, outcome.body)


def _without_repeats(resolved: list, answers: list[Answer | None]) -> list:
    """The messages to store, (n, source, webhook_id, readings, refused), each without the device-signed readings
    stored already or repeated within it (ingest.devices.leave_out_repeats: named in `refused`, the message still a
    2xx); one query for the whole group. A message left with nothing to store because its things do not live here
    is answered now (409); one whose only readings were stored already is still stored (its Delivery row: a retry
    gets the same 200)."""
    signing = [any(item.signature is not None for item in raw) for *_, raw in resolved]
    stored = (
        devices.signatures_stored(
            reading
            for (*_, readings, _, _), has in zip(resolved, signing, strict=True)
            if has
            for items in readings.values()
            for reading in items
        )
        if any(signing)
        else set()
    )
    kept = []
    for (n, source, webhook_id, readings, refused, raw), has in zip(resolved, signing, strict=True):
        repeats = devices.leave_out_repeats(readings, raw, stored) if has else []
        if refused and not readings and not repeats:
            answers[n] = not_live(refused)
            continue
        kept.append((n, source, webhook_id, readings, refused + repeats))
    return kept


def _verify(
    source: Source, headers: Mapping[str, str], body: bytes, now: float, unsealed: dict[tuple, list[str]]
) -> Answer | str:
    """The verified webhook-id, or the answer: too large, not authentic, or the first answer to a retry.
    `unsealed`: secrets already unsealed, by the source row's secret columns."""
    if len(body) > MAX_BODY:
        return too_large()
    key = (source.pk, source.secret_sealed, source.previous_secret_sealed, source.previous_valid_until)
    try:
        secrets = unsealed.get(key)
        if secrets is None:
            secrets = unsealed[key] = source.secrets()
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
    return webhook_id


def _map(source: Source, body: bytes, now: float) -> Answer | tuple[list, datetime]:
    """The raw readings of the payload and the receive time, or a 400/413 naming the bad field."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return error(400, "The body is not JSON.", {"pointer": ""})
    except RecursionError:  # a signed but absurdly nested body ([[[[…)
        return error(400, "The body is nested too deeply to be a payload.", {"pointer": ""})
    received = datetime.fromtimestamp(now, UTC)
    try:
        raw = payload_mapping.extract(payload, payload_mapping.clean_mapping(source.mapping), now=received)
    except payload_mapping.TooManyReadings as exc:
        return error(413, str(exc), {"limit_readings": payload_mapping.MAX_READINGS})
    except payload_mapping.PayloadError as exc:
        return error(400, exc.message, {"pointer": exc.pointer})
    except payload_mapping.PointerSyntaxError as exc:
        return error(400, f"The source's mapping is invalid: {exc}.", {"pointer": ""})
    return raw, received


def _things_of_sources(mapped: list) -> dict[int, tuple]:
    """For each source with several messages here, the things all of them name, in one query per source (a
    source with one message reads its own in resolve_readings)."""
    by_source: dict[int, list] = {}
    for _, source, _, raw, _ in mapped:
        by_source.setdefault(source.pk, []).append((source, raw))
    things = {}
    for pk, messages in by_source.items():
        if len(messages) < 2:
            continue
        names: set[str] = set()
        need_only = False
        for _, raw in messages:
            some, none = things_named(raw)
            names |= some
            need_only = need_only or none
        things[pk] = source_things(source=messages[0][0], names=names, only=need_only)
    return things
