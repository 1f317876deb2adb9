from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from credentials import keepers
from credentials.models import AccessCredential
from upkeep import attachments
from upkeep.demo import receipt_pdf


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def pdf_upload(name: str = "receipt.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, receipt_pdf("A test receipt"), content_type="application/pdf")


@pytest.fixture
def receipt(grinder):
    return attachments.attachment_add(twin=grinder, upload=pdf_upload(), title="Shop receipt")


def make_keeper(twin, keeper, capabilities=None) -> AccessCredential:
    return keepers.access_credential_issue(
        twin=twin,
        issued_by=twin.owner,
        holder=keeper,
        role=AccessCredential.Role.KEEPER,
        capabilities=capabilities or keepers.KEEPER_CAPABILITIES,
    )
