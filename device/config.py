"""The device's home directory: its configuration, its key and its queue, each a file only its user may read.

    <home>/config.json   server URL, source id, secret, thing, kind, unit, transport, MQTT broker
    <home>/device.key    the Ed25519 private key as a Multikey (z3u2…), mode 0600
    <home>/queue.sqlite3 readings and messages not yet sent (device.outbox)

The home is ``--home``, else ``$THINGSTEAD_DEVICE_HOME``, else ``~/.thingstead-device``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ssi.keys import SigningKey

TRANSPORTS = ("http", "mqtt5", "mqtt311")
CONFIG_FILE = "config.json"
KEY_FILE = "device.key"
QUEUE_FILE = "queue.sqlite3"


class ConfigError(ValueError):
    """The configuration or the key file is missing or invalid."""


def default_home() -> Path:
    return Path(os.environ.get("THINGSTEAD_DEVICE_HOME") or Path.home() / ".thingstead-device")


@dataclass
class Config:
    server: str  # the base URL, e.g. https://things.example.org (HTTP posts to <server>/hooks/<source>)
    source: str  # the source id the owner's source page shows
    secret: str  # the source's whsec_ secret, shown once when the source is made or its secret rotated
    thing: str | None = None  # slug or external id; None when the source feeds exactly one thing
    kind: str | None = None  # default kind of `send`; None: the thing's own
    unit: str | None = None
    transport: str = "http"  # http, mqtt5 or mqtt311
    mqtt: str = "mqtt://127.0.0.1:1883"  # the broker, for mqtt5/mqtt311
    sign: bool = True  # sign readings with the device key
    batch: int = 500  # readings per message when a backlog is sent (at most 1,000)
    timeout: float = 10.0  # seconds to wait for an answer
    max_backoff: float = 300.0  # longest wait between attempts after network errors and 5xx

    def check(self) -> Config:
        if not self.server.startswith(("http://", "https://")):
            raise ConfigError("server is an http:// or https:// URL")
        if not self.source:
            raise ConfigError("source is the source id from the owner's source page")
        if not self.secret.startswith("whsec_"):
            raise ConfigError("secret is the source's whsec_… secret")
        if self.transport not in TRANSPORTS:
            raise ConfigError(f"transport is one of {', '.join(TRANSPORTS)}")
        if not 1 <= self.batch <= 1000:
            raise ConfigError("batch is 1–1000 readings")
        return self


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600), atomically: a crash leaves the old file or the new
    one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # an old .tmp may have had other permissions
        os.write(descriptor, text.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save_config(home: Path, config: Config) -> Path:
    path = home / CONFIG_FILE
    write_private(path, json.dumps(asdict(config.check()), indent=2) + "\n")
    return path


def load_config(home: Path) -> Config:
    path = home / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no configuration in {path}: run `python -m device init` first") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from None
    known = {field.name for field in fields(Config)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{path}: unknown settings {', '.join(sorted(unknown))}")
    try:
        return Config(**data).check()
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_or_create_key(home: Path) -> tuple[SigningKey, bool]:
    """The device key in <home>/device.key, made (and stored with mode 0600) if there is none; True if new."""
    path = home / KEY_FILE
    if path.exists():
        return load_key(home), False
    key = SigningKey.generate()
    write_private(path, key.private_multibase() + "\n")
    return key, True


def load_key(home: Path) -> SigningKey:
    path = home / KEY_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(f"no device key in {path}: run `python -m device init` first") from None
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} may be read by others: chmod 600 it (and consider the key exposed)")
    try:
        return SigningKey.from_multibase(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is not an Ed25519 private Multikey: {exc}") from None
