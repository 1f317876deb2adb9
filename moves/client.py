"""Calls to the other instance of a move, through core.netguard (SECURITY 40: public addresses only, unless
OUTBOUND_ALLOW_PRIVATE_ADDRESSES; the socket goes to the address that was checked; no proxy, no redirect).

One function, :func:`call`: it returns the other side's JSON answer on a 2xx, or raises :class:`CallError`, which
says whether trying again can help. Errors name the other side's host and status, never a path (the ids in our
paths are not secret, but the token in the header is, and neither belongs in a log), never a body we sent.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from core import netguard
from core.parsers import loads

CONNECT_TIMEOUT = 5.0
# The whole exchange: small calls, and each chunk of the package push (the last one waits while the other side
# opens and restores the whole package).
TOTAL_TIMEOUT = 20.0
PUSH_TIMEOUT = 120.0
MAX_ANSWER_BYTES = 65_536
USER_AGENT = "Thingstead-Moves/1.0"


class CallError(Exception):
    """The other side did not answer 2xx. ``permanent``: asking again cannot help. ``status``: its HTTP status, if
    it answered; ``message``: its error message, if it gave one in the project's shape."""

    def __init__(self, message: str, *, permanent: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status


@dataclass(frozen=True)
class Answer:
    status: int
    data: dict[str, Any]


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc or "(no host)"


def call(
    method: str,
    url: str,
    *,
    token: str | None = None,
    json_body: Any = None,
    body: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = TOTAL_TIMEOUT,
) -> Answer:
    """``method`` ``url`` with an optional bearer ``token`` and a JSON or raw body; the 2xx answer's JSON."""
    if json_body is not None:
        body = json.dumps(json_body, separators=(",", ":")).encode()
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if body is not None:
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        answer = netguard.exchange(
            method,
            url,
            body=body,
            headers=headers,
            connect_timeout=CONNECT_TIMEOUT,
            total_timeout=timeout,
            max_answer_bytes=MAX_ANSWER_BYTES,
        )
    except netguard.NotHttpURL as exc:
        message = f"the other instance's address is {'malformed' if exc.malformed else 'not an http(s) URL'}"
        raise CallError(message, permanent=True) from None
    except netguard.BlockedAddress:
        raise CallError(netguard.REFUSAL, permanent=True) from None
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, name not found, bad answer
        raise CallError(f"{_host(url)}: {str(exc) or type(exc).__name__}"[:300], permanent=False) from None
    status = answer.status
    try:
        # loads(): a hostile host's answer nested deep raised RecursionError, not a CallError, in every step.
        data = loads(answer.body or b"{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if 200 <= status < 300:
        return Answer(status=status, data=data)
    said = data.get("message") if isinstance(data.get("message"), str) else ""
    message = f"{_host(url)} answered {status}" + (f": {said[:200]}" if said else "")
    # 408/429/5xx: later may work. 3xx: we follow no redirect (it would go to an address we never checked).
    raise CallError(message, permanent=not (status in (408, 425, 429) or status >= 500), status=status)
