"""What waits behind a login: the page a `next` link leads to, described on the login and sign-up pages.

Someone opening a link that needs an account (a transfer offer, an invitation) lands on the login page; without
a word about why, a new person never finds the way back. Higher layers describe their own pages here (twins
registers the transfer offer from TwinsConfig.ready), so owners imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

# describer(request, path) -> HTML of a short summary, or None when the path is not theirs.
Describer = Callable[[HttpRequest, str], SafeString | None]
_describers: list[Describer] = []


def register_next_describer(describer: Describer) -> None:
    if describer not in _describers:
        _describers.append(describer)


def describe_next(request: HttpRequest, path: str) -> SafeString | None:
    """The first description any registered describer gives of `path` (a local path, already checked safe)."""
    for describer in _describers:
        html = describer(request, path)
        if html:
            return html
    return None
