"""Device-client fixtures: alice's source feeding her grinder (external id "bedroom"), the device's key registered
on it, a configured device home, and the ingest gateway over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.config import Config, save_config, write_private
from ingest import devices
from ingest import services as ingest_services
from ingest.gateway import Gateway
from ssi.keys import SigningKey
from tests.asgi_thread import asgi_in_thread


@pytest.fixture
def source_and_secret(alice, grinder):
    source, secret = ingest_services.source_create(owner=alice, name="Bedroom sensor", rate_limit="100000/60")
    ingest_services.source_link_thing(source=source, twin=grinder, external_id="bedroom")
    return source, secret


@pytest.fixture
def device_key(grinder) -> SigningKey:
    key = SigningKey.generate()
    devices.device_key_add(twin=grinder, public_key=key.multibase, label="board")
    return key


def make_home(home: Path, *, server: str, source, secret: str, key: SigningKey, **options) -> Path:
    save_config(home, Config(server=server, source=source.public_id, secret=secret, thing="bedroom", **options))
    write_private(home / "device.key", key.private_multibase() + "\n")
    return home


@pytest.fixture
def gateway(transactional_db):
    with asgi_in_thread(Gateway(), lifespan="on", http="httptools") as url:
        yield url
