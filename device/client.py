"""The device client: record readings (signed, queued on disk at once), send them in order, act on each answer.

    client = Client.open(Path("~/.thingstead-device").expanduser())
    client.record(21.5, kind="temp")   # on disk when it returns
    client.flush()                     # send what is queued; stops at the first failure, the rest stays queued
    client.watch(read_sensor, every=60)  # record every minute and keep sending, until stopped

What a device does with each answer (docs/devices.md, "Answers"): 2xx → the message is done; a network error,
a timeout, 408 or another 5xx → the same message (same webhook-id) again after a backoff (exponential, with jitter,
capped); 429 and 503 → the same message again after at least Retry-After; 400 naming one reading of a batch → that
reading is set aside and the others go again under a new id (the server stored nothing of a refused message);
400, 409, 413 otherwise → the message is set aside; 401 or 404 → the device's setup is wrong (secret, source id,
or a clock more than 5 minutes off): sending stops and the queue is kept until the setup is fixed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from device import wire
from device.config import QUEUE_FILE, Config, load_config, load_key
from device.outbox import Message, Outbox, Status
from device.transports import Transport, transport_for
from ssi.keys import SigningKey

log = logging.getLogger("device")

MIN_BACKOFF = 1.0


class SetupError(RuntimeError):
    """The server refused the device itself (401, 404): nothing will go through until its setup is fixed."""


@dataclass(frozen=True)
class FlushResult:
    sent: int  # readings the server (or the broker) took in this flush
    messages: int
    dropped: int  # readings set aside as refused
    last: wire.Answer | None  # the last answer, when the flush stopped before the queue was empty

    @property
    def done(self) -> bool:
        return self.last is None


class Client:
    def __init__(
        self,
        *,
        config: Config,
        outbox: Outbox,
        key: SigningKey | None,
        transport: Transport | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.key = key
        self.transport = transport or transport_for(config)
        self.sleep = sleep
        self.clock = clock
        self.backoff = MIN_BACKOFF

    @classmethod
    def open(cls, home: Path, *, config: Config | None = None, **options: Any) -> Client:
        config = config or load_config(home)
        key = load_key(home) if config.sign else None
        return cls(config=config, outbox=Outbox(home / QUEUE_FILE), key=key, **options)

    def close(self) -> None:
        self.transport.close()
        self.outbox.close()

    # --- Recording ---------------------------------------------------------------------------------------------

    def reading(
        self,
        value: float | int,
        *,
        kind: str | None = None,
        unit: str | None = None,
        thing: str | None = None,
        time: datetime | str | None = None,
    ) -> dict[str, Any]:
        """A reading taken now (or at `time`), with the configuration's thing, kind and unit, device-signed."""
        kind = kind if kind is not None else self.config.kind
        unit = unit if unit is not None else (self.config.unit if kind == self.config.kind else None)
        return wire.reading(
            value,
            time=time or datetime.now(UTC),
            thing=thing if thing is not None else self.config.thing,
            kind=kind,
            unit=unit,
            key=self.key,
        )

    def record(self, value: float | int, **members: Any) -> dict[str, Any]:
        """Sign and queue one reading; it is on disk when this returns."""
        item = self.reading(value, **members)
        self.outbox.put(item)
        return item

    def record_many(self, readings: Iterable[dict[str, Any]]) -> int:
        """Queue readings made by :meth:`reading` (or :func:`device.wire.reading`) in one transaction."""
        return self.outbox.put_many(readings)

    def status(self) -> Status:
        return self.outbox.status()

    # --- Sending -----------------------------------------------------------------------------------------------

    def flush(self, *, wait: bool = False, deadline: float | None = None) -> FlushResult:
        """Send every queued message, oldest first. Without `wait`, stop at the first answer that asks to try again
        later (offline, 5xx, 429: the rest stays queued for the next flush); with `wait`, back off and try again
        until the queue is empty or `deadline` (a ``clock()`` value) passes. Raises :class:`SetupError` on 401/404
        (the queue is kept) and :class:`device.outbox.Busy` if another process is sending."""
        self.outbox.acquire()
        sent = messages = dropped = 0
        try:
            while True:
                message = self.outbox.next_message(max_readings=self.config.batch)
                if message is None:
                    return FlushResult(sent, messages, dropped, None)
                answer, settled, set_aside = self._send_one(message)
                if settled == wire.SENT:
                    sent += message.count
                    messages += 1
                elif settled == wire.DROP:
                    dropped += set_aside
                else:  # RETRY or SLOW_DOWN: the message stays sealed, with its webhook-id
                    delay = self._delay(answer)
                    if not wait or (deadline is not None and self.clock() + delay > deadline):
                        return FlushResult(sent, messages, dropped, answer)
                    log.info("waiting %.1f s before sending %s again", delay, message.webhook_id)
                    self.sleep(delay)
        finally:
            self.outbox.release()

    def _send_one(self, message: Message) -> tuple[wire.Answer, str, int]:
        """Send one message and record the outcome in the queue: the answer, its action, readings set aside."""
        answer = self.transport.send(message.webhook_id, message.body)
        action = answer.action
        set_aside = 0
        if action == wire.SENT:
            self.outbox.sent(message, answer.body)
            self.backoff = MIN_BACKOFF
            log.debug("%s: %d readings sent", message.webhook_id, message.count)
        elif action == wire.DROP:
            index = wire.bad_reading_index(answer.pointer) if answer.status == 400 else None
            if index is not None and message.count > 1 and index < message.count:
                self.outbox.reject_one(message, index, answer.status, answer.message)
                set_aside = 1
                log.error("%s: reading %d refused and set aside: %s", message.webhook_id, index, answer.message)
            else:
                self.outbox.reject(message, answer.status, answer.message)
                set_aside = message.count
                log.error("%s: %d readings set aside: %s", message.webhook_id, message.count, answer.message)
        elif action == wire.STOP:
            self.outbox.note_error(answer.status, answer.message)
            log.error("the server refuses this device (%s): fix its configuration; the queue is kept", answer.message)
            raise SetupError(answer.message)
        else:
            self.outbox.attempted(message, answer.message, answer.status)
            log.warning("%s: not sent (%s); it will be sent again", message.webhook_id, answer.message)
        return answer, action, set_aside

    def _delay(self, answer: wire.Answer) -> float:
        """Seconds to wait before the next attempt: exponential backoff with jitter for errors, at least
        Retry-After for 429/503."""
        backoff = self.backoff
        self.backoff = min(self.backoff * 2, self.config.max_backoff)
        delay = random.uniform(backoff / 2, backoff)
        if answer.action == wire.SLOW_DOWN:
            delay = max(delay, answer.retry_after if answer.retry_after is not None else backoff)
        return delay

    # --- Running -----------------------------------------------------------------------------------------------

    def watch(
        self,
        sensor: Callable[[], float | int | dict[str, Any] | None],
        *,
        every: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Record what `sensor` returns (a value, a dict of :meth:`reading`'s members with "value", or None for
        nothing this time) every `every` seconds, or as fast as it returns when `every` is None (a sensor that
        blocks until it has a reading, such as a line of stdin; raise StopIteration to end), and send in a
        thread of its own meanwhile. Returns when `stop` is set or the sensor ends, after a last flush."""
        stop = stop or threading.Event()
        wake = threading.Event()
        sender = threading.Thread(target=self._send_forever, args=(stop, wake), name="device-sender", daemon=True)
        sender.start()
        try:
            while not stop.is_set():
                try:
                    got = sensor()
                except StopIteration:
                    break
                if got is not None:
                    members = dict(got) if isinstance(got, dict) else {"value": got}
                    self.record(members.pop("value"), **members)
                    wake.set()
                if every is not None:
                    stop.wait(every)
        finally:
            stop.set()
            wake.set()
            sender.join()
        try:
            self.flush()
        except SetupError:
            pass

    def _send_forever(self, stop: threading.Event, wake: threading.Event) -> None:
        while not stop.is_set():
            wake.clear()
            try:
                result = self.flush()
            except SetupError:
                stop.wait(self.config.max_backoff)  # the owner fixes the setup; meanwhile keep recording
                continue
            if result.last is None:
                wake.wait()  # until a new reading (or the stop)
            else:
                stop.wait(self._delay(result.last))  # new readings wait too: they queue behind the failed one
