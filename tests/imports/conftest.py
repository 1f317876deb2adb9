from __future__ import annotations

import io

from imports import services
from imports.models import ImportRun

# The browser tests' fixtures (Debian's Chromium, a phone's viewport, the live server), for the browser test here.
from tests.browser.conftest import _default_timeouts, browser_context_args, browser_type_launch_args, site  # noqa: F401


def upload(owner, data: str | bytes, name: str = "things.csv") -> ImportRun:
    raw = data.encode() if isinstance(data, str) else data
    return services.import_upload(owner=owner, upload=io.BytesIO(raw), filename=name)


def run_import(owner, data: str | bytes, name: str = "things.csv") -> ImportRun:
    """Upload, confirm and apply (here, inline; the worker in production)."""
    run = upload(owner, data, name)
    assert run.status == ImportRun.Status.CHECKED, run.message
    services.import_confirm(run=run)
    return services.import_apply(run.pk)


def errors(run: ImportRun, phase: str = "check") -> list[str]:
    return [error.text for error in run.errors.filter(phase=phase).order_by("row", "id")]
