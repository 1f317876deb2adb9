"""Values for tests/test_access_matrix.py: an import of alice's, checked and waiting for her confirmation."""

from __future__ import annotations

import io

from imports import services
from imports.models import ImportRun


def run_of(world) -> ImportRun:
    found = ImportRun.objects.filter(owner=world.alice, filename="matrix.csv").first()
    if found is None:
        data = b"name,serial\nMatrix cow,MX-COW\n"
        found = services.import_upload(owner=world.alice, upload=io.BytesIO(data), filename="matrix.csv")
    return found


def snapshot(alice) -> tuple:
    """alice's imports, for the matrix's "a stranger changes nothing" check (a stranger's confirm would queue it)."""
    return (list(ImportRun.objects.filter(owner=alice).order_by("pk").values()),)
