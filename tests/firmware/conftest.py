"""Firmware actors: Acme (dora admin, erin member) with its grinder model; alice owns one grinder she claimed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from makers.claims import claim
from makers.production import produce
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401  (shared fixtures)

PAYLOAD = bytes(range(256)) * 300  # 76.8 KB: more than one hashing chunk


def upload(data: bytes = PAYLOAD, name: str = "grinder.bin") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def alices_grinder(acme_model, alice):  # noqa: F811 (the imported fixture, by name)
    ((produced, code),) = produce(model=acme_model, serials=["G-1"], by=None)
    claim(twin=produced.twin, buyer=alice, code=code)
    produced.twin.refresh_from_db()
    return produced.twin
