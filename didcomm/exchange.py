"""RFC 0023 DID Exchange, the steps that write: accepting an invitation (we request), answering a request
(we respond), completing."""

from __future__ import annotations

from didcomm.models import Agent, Connection
from ssi import oob


class InvitationError(Exception):
    """The invitation cannot be accepted; ``str(exc)`` is the reason, for the person who pasted it."""


def invitation_accept(*, agent: Agent, invitation_url: str) -> Connection:
    """Accept an RFC 0434 invitation (a URL with ``?oob=``): create the connection (role requester) and queue
    our DID Exchange request. Raises :class:`InvitationError` with a reason a person can act on."""
    try:
        oob.parse_url(invitation_url.strip())
    except oob.OOBError as exc:
        raise InvitationError(f"not an invitation: {exc}") from None
    raise InvitationError("accepting invitations is not available yet")
