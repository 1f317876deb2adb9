"""The on-disk queue: readings wait here until the server (or the MQTT broker) has them. SQLite, standard library.

Two stages, so that a retry is always the very same message:

1. ``readings``: each recorded reading (already device-signed, with its time), in order. Recording commits before
   it returns, so a reading the caller was told about is on disk.
2. ``messages``: when it is time to send, the oldest readings are *sealed* into one message: its body (the bytes
   that will be signed and sent) and a fresh webhook-id are written and the readings removed, in one transaction.
   Every attempt sends that body under that webhook-id (with a fresh timestamp), until an answer settles it: then
   it is deleted (sent) or moved to ``rejected`` (refused for its content), again in one transaction.

So whatever instant the process dies at (SIGKILL, power cut), each reading is in exactly one place: waiting,
sealed in a message, or gone because the server answered that message. A message the server stored but whose
answer was lost is sent again with its webhook-id, and the server answers it with its first answer instead of
storing it twice. The journal is WAL with ``synchronous=FULL``: a COMMIT is on the disk before it returns.

One process at a time sends (an exclusive lock file); any number may record (SQLite serialises the writes).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device import wire

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    reading BLOB NOT NULL  -- the reading's JSON, exactly as it will go into a body
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- sealing order: messages are sent oldest first
    webhook_id TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    count INTEGER NOT NULL,
    sealed_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    body BLOB NOT NULL,
    count INTEGER NOT NULL,
    status INTEGER,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
ALL_MESSAGES = "SELECT seq, webhook_id, body, count, attempts FROM messages ORDER BY seq"
OLDEST_MESSAGE = ALL_MESSAGES + " LIMIT 1"


@dataclass(frozen=True)
class Message:
    seq: int
    webhook_id: str
    body: bytes
    count: int
    attempts: int


@dataclass(frozen=True)
class Status:
    waiting: int  # readings not yet sealed
    sealed: int  # readings in sealed messages not yet answered
    messages: int
    rejected: int  # readings set aside because the server refused them
    last_success: dict[str, Any] | None
    last_error: dict[str, Any] | None

    @property
    def queued(self) -> int:
        return self.waiting + self.sealed


class Busy(RuntimeError):
    """Another process is sending from this queue."""


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # readings may be private
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock_file: int | None = None
        # One connection, shared by the threads of this process (a recorder and a sender): its transactions must
        # not interleave.
        self._mutex = threading.RLock()

    def close(self) -> None:
        self.release()
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE: take the write lock at BEGIN, so two writers never both read then both write.
        with self._mutex:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- Recording ---------------------------------------------------------------------------------------------

    def put(self, reading: dict[str, Any]) -> None:
        self.put_many([reading])

    def put_many(self, readings: Iterable[dict[str, Any]]) -> int:
        """Queue readings in order, in one transaction (all or none); on disk when this returns."""
        rows = [(wire.reading_json(item),) for item in readings]
        with self._transaction() as db:
            db.executemany("INSERT INTO readings (reading) VALUES (?)", rows)
        return len(rows)

    # --- Sending -----------------------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Become the one sender of this queue (until :meth:`release` or the process ends); raise Busy if another
        process is. The lock is the kernel's, so a killed sender releases it by dying."""
        if self._lock_file is not None:
            return
        descriptor = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise Busy(f"another process is sending from {self.path}") from None
        self._lock_file = descriptor

    def release(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def next_message(self, *, max_readings: int = 500, max_bytes: int = 512 * 1024) -> Message | None:
        """The oldest sealed message; if there is none, seal the oldest waiting readings into one (at most
        `max_readings` and about `max_bytes`). None when nothing is queued."""
        with self._transaction() as db:
            row = db.execute(OLDEST_MESSAGE).fetchone()
            if row is not None:
                return Message(*row)
            rows = db.execute("SELECT seq, reading FROM readings ORDER BY seq LIMIT ?", (max_readings,)).fetchall()
            if not rows:
                return None
            taken, size = [], 0
            for seq, text in rows:
                if taken and size + len(text) + 1 > max_bytes:
                    break
                taken.append((seq, bytes(text)))
                size += len(text) + 1
            body = wire.body_of([text for _, text in taken])
            webhook_id = wire.new_webhook_id()
            cursor = db.execute(
                "INSERT INTO messages (webhook_id, body, count, sealed_at) VALUES (?, ?, ?, ?)",
                (webhook_id, body, len(taken), time.time()),
            )
            db.execute("DELETE FROM readings WHERE seq BETWEEN ? AND ?", (taken[0][0], taken[-1][0]))
            return Message(cursor.lastrowid, webhook_id, body, len(taken), 0)

    def attempted(self, message: Message, error: str, status: int | None) -> None:
        """An attempt that settled nothing (network error, 5xx, 429): the message stays, to be sent again."""
        with self._transaction() as db:
            db.execute("UPDATE messages SET attempts = attempts + 1 WHERE seq = ?", (message.seq,))
            self._set(db, "last_error", {"at": time.time(), "status": status, "error": error})

    def sent(self, message: Message, answer: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE seq = ?", (message.seq,))
            self._set(
                db,
                "last_success",
                {"at": time.time(), "webhook_id": message.webhook_id, "readings": message.count, "answer": answer},
            )

    def reject(self, message: Message, status: int | None, reason: str) -> None:
        """Set the whole message aside (kept in ``rejected`` for a person to look at); it is not sent again."""
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE seq = ?", (message.seq,))
            db.execute(
                "INSERT INTO rejected (webhook_id, body, count, status, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
                (message.webhook_id, message.body, message.count, status, reason, time.time()),
            )
            self._set(db, "last_error", {"at": time.time(), "status": status, "error": reason})

    def reject_one(self, message: Message, index: int, status: int | None, reason: str) -> Message:
        """Set aside reading `index` of the message and make the rest a new message in its place, with a new
        webhook-id. Only after an answer that stored nothing of the message (a 400 stores nothing: a message is
        all or nothing), so the new id cannot store anything twice."""
        readings = json.loads(message.body)["readings"]
        bad = readings.pop(index)
        body = wire.body_of([wire.reading_json(item) for item in readings])
        webhook_id = wire.new_webhook_id()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO rejected (webhook_id, body, count, status, reason, at) VALUES (?, ?, 1, ?, ?, ?)",
                (message.webhook_id, wire.body_of([wire.reading_json(bad)]), status, reason, time.time()),
            )
            db.execute(
                "UPDATE messages SET webhook_id = ?, body = ?, count = ?, attempts = 0 WHERE seq = ?",
                (webhook_id, body, len(readings), message.seq),
            )
            self._set(db, "last_error", {"at": time.time(), "status": status, "error": reason})
        return Message(message.seq, webhook_id, body, len(readings), 0)

    def note_error(self, status: int | None, reason: str) -> None:
        with self._transaction() as db:
            self._set(db, "last_error", {"at": time.time(), "status": status, "error": reason})

    # --- Reading the state -------------------------------------------------------------------------------------

    def status(self) -> Status:
        with self._transaction() as db:  # one consistent view of the three tables
            waiting = db.execute("SELECT count(*) FROM readings").fetchone()[0]
            messages, sealed = db.execute("SELECT count(*), coalesce(sum(count), 0) FROM messages").fetchone()
            rejected = db.execute("SELECT coalesce(sum(count), 0) FROM rejected").fetchone()[0]
            success, error = self._get(db, "last_success"), self._get(db, "last_error")
        return Status(waiting, sealed, messages, rejected, success, error)

    def rejected(self) -> list[dict[str, Any]]:
        with self._mutex:
            rows = self._db.execute("SELECT webhook_id, body, status, reason, at FROM rejected ORDER BY seq").fetchall()
        return [
            {"webhook_id": webhook_id, "readings": json.loads(body)["readings"], "status": status, "reason": reason}
            for webhook_id, body, status, reason, _ in rows
        ]

    def messages(self) -> list[Message]:
        with self._mutex:
            rows = self._db.execute(ALL_MESSAGES).fetchall()
        return [Message(*row) for row in rows]

    def _set(self, db: sqlite3.Connection, name: str, value: dict[str, Any]) -> None:
        db.execute("INSERT OR REPLACE INTO state (name, value) VALUES (?, ?)", (name, json.dumps(value)))

    def _get(self, db: sqlite3.Connection, name: str) -> dict[str, Any] | None:
        row = db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None
