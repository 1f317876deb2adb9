"""Where a thing lives now, from what its owner pasted on the destination: its DID, or the address of its page.

A did:webvh DID names its host: ``did:webvh:<SCID>:things.example.org:twins:<slug>`` lives at
``https://things.example.org``. ``MOVES_HOST_URLS`` (a setting, default empty) maps a DID's domain to another base
URL, for development and tests whose instances listen on ``http://127.0.0.1:PORT`` behind a two-label DID domain
(FACTS: did:webvh refuses ``127.0.0.1`` and ``localhost`` in a DID). A URL names its host itself.

On the source, :func:`twin_for` finds the twin the destination named, by DID or by the path of one of its pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import Resolver404, resolve

from ssi import webvh
from ssi.errors import DIDError
from twins.models import Twin

MAX_LENGTH = 500
HINT = "Paste the thing's DID (did:webvh:…) or the address of its page on your old host."
# The source's pages that name a twin by its slug in the path.
TWIN_PATHS = ("/things/", "/twins/")


@dataclass(frozen=True)
class Source:
    asked_for: str  # what goes to the source as "did": a DID, or a URL of its page
    base_url: str  # the source instance, scheme://host[:port]
    did: str  # "" when a URL was pasted (the source's answer tells)
    scid: str


def host_urls() -> dict[str, str]:
    return dict(getattr(settings, "MOVES_HOST_URLS", {}) or {})


def _base_for_did(parsed: webvh.WebvhDID) -> str:
    domain = parsed.host + (f"%3A{parsed.port}" if parsed.port else "")
    mapped = host_urls()
    for key in (domain, domain.replace("%3A", ":")):
        if key in mapped:
            return str(mapped[key]).rstrip("/")
    return "https://" + parsed.host + (f":{parsed.port}" if parsed.port else "")


def parse_source(text: str) -> Source:
    """The source named by ``text``; ValidationError (on ``source``) saying what to paste instead."""
    text = (text or "").strip()
    if not text or len(text) > MAX_LENGTH:
        raise ValidationError({"source": HINT})
    if text.startswith("did:"):
        try:
            parsed = webvh.parse_did(text)
        except DIDError:
            raise ValidationError({"source": "This is not a did:webvh DID. " + HINT}) from None
        source = Source(asked_for=parsed.did, base_url=_base_for_did(parsed), did=parsed.did, scid=parsed.scid)
    elif text.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ValidationError({"source": "This address is malformed. " + HINT}) from None
        if "@" in parts.netloc or parts.query or parts.fragment or "?" in text or "#" in text:
            # A user part makes "https://things.example.org@evil.example" read as one host and reach another.
            raise ValidationError(
                {"source": "Paste the page's address without a user name, a query (?…) or a fragment (#…). " + HINT}
            )
        if not parts.hostname or not parts.path.strip("/"):
            raise ValidationError({"source": "This is the address of a site, not of a thing's page. " + HINT})
        base = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        source = Source(asked_for=base + parts.path, base_url=base, did="", scid="")
    else:
        raise ValidationError({"source": HINT})
    if source.base_url.rstrip("/") == settings.SITE_URL.rstrip("/"):
        raise ValidationError({"source": "This thing is on this instance already: there is nothing to bring here."})
    return source


def twin_for(asked_as: str) -> Twin | None:
    """On the source: the twin a destination asked for, by its DID, or by the path of one of its pages here
    (``/things/<slug>/…`` for its owner, ``/twins/<slug>/…`` for its DID files)."""
    if asked_as.startswith("did:"):
        return Twin.objects.filter(did=asked_as).first()
    try:
        path = urlsplit(asked_as).path
    except ValueError:
        return None
    if not path.startswith(TWIN_PATHS):
        return None
    for candidate in (path, path + "/"):
        try:
            slug = resolve(candidate).kwargs.get("slug")
        except Resolver404:
            continue
        return Twin.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    return None
