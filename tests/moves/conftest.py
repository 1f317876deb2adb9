"""Moves in one process: both roles on one live server and one database.

An instance cannot be two, so the test plays them through two names of the same server: the source (A) is
``http://localhost:PORT`` (reached through MOVES_HOST_URLS from the twin's DID domain), the destination (B) is
``http://127.0.0.1:PORT`` (its SITE_URL, where A pushes), and B mints DIDs under ``b.localhost:PORT``. Every call
between them is real HTTP through core.netguard. What one database cannot hold is the same twin twice (its slug is
unique): a test that lets the package arrive renames the source's copy first (see ``make_room``). The proof across
real instances is tests/interop/test_move_*.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from moves import services
from moves.models import MoveIn, MoveOut
from ssi import move as sealing
from ssi.keys import SigningKey
from ssi.webvh import next_key_hash
from twins import portability
from twins.models import Twin, new_public_id


@dataclass
class Roles:
    a_url: str  # the source, as B reaches it
    b_url: str  # the destination's SITE_URL
    b_did_domain: str


@pytest.fixture
def roles(live_server, settings, grinder) -> Roles:
    """Both roles on the live server (grinder, alice's, is made first: under the source's DID domain)."""
    port = urlsplit(live_server.url).port
    a_url = f"http://localhost:{port}"
    b_url = f"http://127.0.0.1:{port}"
    settings.MOVES_HOST_URLS = {django_settings.DID_DOMAIN: a_url}
    settings.SITE_URL = b_url
    settings.DID_DOMAIN = f"b.localhost:{port}"
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    return Roles(a_url=a_url, b_url=b_url, b_did_domain=settings.DID_DOMAIN)


# Parts whose rows are unique across a database by something the package carries (a credential status list):
# one database cannot hold the source's copy and the destination's. tests/moves/test_parts_* and the interop
# tests move them between real instances.
ONE_DATABASE_CANNOT_HOLD_TWICE = ("credentials",)


@pytest.fixture
def one_database_parts(monkeypatch):
    """The package without the parts one database cannot hold twice (see above); every other part is real."""
    kept = {name: part for name, part in portability._PARTS.items() if name not in ONE_DATABASE_CANNOT_HOLD_TWICE}
    monkeypatch.setattr(portability, "_PARTS", kept)


@pytest.fixture
def no_worker(settings):
    """No task runs by itself: the resume job (as after a crash of every worker) takes each step."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def make_room(twin: Twin) -> None:
    """Let the twin's package arrive in the same database: the source's copy takes another slug."""
    Twin.objects.filter(pk=twin.pk).update(slug=new_public_id())


def request_body(**changes) -> dict:
    """A valid step-1 body from a destination at https://b.example, for the API tests."""
    key = SigningKey.generate()
    body = {
        "id": new_public_id(),
        "did": "",
        "destination": "https://b.example",
        "destination_did_domain": "b.example",
        "key": sealing.public_key_text(sealing.new_keys().public),
        "token": "t" * 10 + new_public_id() + new_public_id(),
        "owner_update_key": key.multibase,
        "owner_next_key_hash": next_key_hash(SigningKey.generate().multibase),
    }
    body.update(changes)
    return body


def confirm(*, move_out: MoveOut, by, **kwargs) -> None:
    """services.move_confirm as the owner does it: with the pairing code the new host shows for this request
    (moves.pairing; A's computation, which tests/moves/test_pairing.py proves is B's)."""
    services.move_confirm(move_out=move_out, by=by, pairing_code=move_out.pairing_code, **kwargs)


def bearer_api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


__all__ = ["MoveIn", "MoveOut", "Roles", "bearer_api", "confirm", "make_room", "request_body", "services"]
