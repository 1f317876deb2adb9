"""Bearer tokens in URLs (tag tokens, transfer offers, typed codes, password-reset links) never reach the logs."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

TAG_TOKEN = "0JTAy0L4RzoAL_ONspQp4JxP1k5R1UwEJWCQkFDogUA"
OFFER_TOKEN = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo"


def _format(record: logging.LogRecord) -> str:
    from core.logging import RedactSecretsFilter

    assert RedactSecretsFilter().filter(record) is True
    return record.getMessage()


def _record(msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord("django.request", logging.WARNING, __file__, 1, msg, args, None)


@pytest.mark.parametrize(
    "path",
    [
        f"/t/{TAG_TOKEN}",
        f"/t/{TAG_TOKEN}/message",
        f"/transfer/{OFFER_TOKEN}",
        f"/transfer/{OFFER_TOKEN}/accept",
        "/t/?code=ABCD-EFGH",
        "/password-reset/MQ/cxyz12-0123456789abcdef0123456789abcdef/",
    ],
)
def test_django_request_log_lines_carry_no_bearer_token(path):
    line = _format(_record("Not Found: %s", path))
    assert TAG_TOKEN not in line and OFFER_TOKEN not in line and "ABCD-EFGH" not in line
    assert "0123456789abcdef" not in line
    assert "[redacted]" in line


def test_gunicorn_access_log_lines_carry_no_bearer_token():
    # gunicorn.glogging passes its atoms as a dict.
    record = _record('%(h)s "%(r)s" %(s)s', {"h": "10.0.0.1", "r": f"GET /t/{TAG_TOKEN} HTTP/1.1", "s": "200"})
    assert _format(record) == '10.0.0.1 "GET /t/[redacted] HTTP/1.1" 200'


def test_other_paths_are_logged_as_they_are():
    assert _format(_record("Not Found: %s", "/things/abc/")) == "Not Found: /things/abc/"


def test_the_filter_is_on_every_handler_in_settings():
    handlers = settings.LOGGING["handlers"]
    assert handlers and all("redact_secrets" in handler.get("filters", []) for handler in handlers.values())


def test_a_real_404_for_a_tag_url_logs_no_token(client, caplog):
    from core.logging import RedactSecretsFilter

    caplog.set_level(logging.WARNING, logger="django.request")
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(one, RedactSecretsFilter) for one in handler.filters)
    ]
    assert handlers, "the console handler of settings.LOGGING carries the filter"
    client.get(reverse("tag-message", args=[TAG_TOKEN]))  # GET on a POST-only view: logged by django.request
    assert caplog.records
    for record in caplog.records:
        assert handlers[0].filter(record)
        assert TAG_TOKEN not in handlers[0].format(record)
