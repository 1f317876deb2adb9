"""Keep bearer secrets that travel in URLs out of the logs.

A tag's URL (/t/<token>), a transfer offer's (/transfer/<token>), a typed short code (/t/?code=) and a password
reset link each let whoever reads them act: a log line with one is a leaked key. The filter rewrites the message
of every record that passes a handler it is on (config/settings.py LOGGING puts it on every handler), so Django's
request log, the development server's and gunicorn's access log (GUNICORN_LOGCONFIG) say `[redacted]` instead.
"""

from __future__ import annotations

import logging
import re

# A path starts the line or follows a space, a quote or `=`, with or without scheme and host.
_START = r"((?:^|(?<=[\s\"'=]))(?:https?://[^/\s\"']+)?"
_SECRETS = [
    re.compile(_START + r"/t/)[A-Za-z0-9_-]+"),
    re.compile(_START + r"/transfer/)[A-Za-z0-9_-]+"),
    re.compile(_START + r"/password-reset/)[A-Za-z0-9_-]+/[A-Za-z0-9_-]+"),
    re.compile(r"([?&]code=)[^&\s\"']+"),
]
REDACTED = "[redacted]"


def redact(text: str) -> str:
    for pattern in _SECRETS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Replace URL-borne secrets in a record's message (formatted with its args) by `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            return True  # a malformed record: the logging module reports it, we only never block it
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# gunicorn's logging for production: `gunicorn -c python:config.gunicorn ...` with a module holding
# `from core.logging import GUNICORN_LOGCONFIG as logconfig_dict`. gunicorn.glogging logs access lines to the
# `gunicorn.access` logger with its atoms as the record's args, so the filter sees the full request line.
GUNICORN_LOGCONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "core.logging.RedactSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"], "stream": "ext://sys.stdout"},
        "error_console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_secrets"],
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}
