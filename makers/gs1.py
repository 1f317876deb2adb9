"""GS1 identifiers and the GS1 Digital Link URI syntax, pure Python (no Django): what the product models, the
production API and the resolver share.

- GTIN (GS1 General Specifications §7.9.1): 8, 12, 13 or 14 digits, the last a mod-10 check digit (weights 3 and
  1 from the right). Every length is the same number padded with leading zeros to GTIN-14, the form the Digital
  Link path uses (GS1 Digital Link URI Syntax §4.6: "the GTIN SHALL be expressed as 14 digits").
- Serial (AI 21): 1 to 20 characters of GS1 AI encodable character set 82 (General Specifications §7.11, figure
  7.11-1), percent-encoded in a URI path where RFC 3986 needs it.
- Digital Link paths for a GTIN: `/01/<gtin14>`, with the qualifiers in their fixed order
  `/22/<cpv>`, `/10/<lot>`, `/21/<serial>` (URI Syntax §4.5); only the serial matters to Thingstead.
- Link sets: RFC 9264 `application/linkset+json`, relation types as GS1 Web Vocabulary URIs
  (`https://gs1.org/voc/pip`), the form the GS1-Conformant Resolver standard (1.x, §"Linkset") returns.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

GTIN_LENGTHS = (8, 12, 13, 14)
SERIAL_MAX = 20
# GS1 AI encodable character set 82.
SERIAL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_")

VOCABULARY = "https://gs1.org/voc/"
PREFIX = "gs1:"
LINKSET_MEDIA_TYPE = "application/linkset+json"
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"

# Link types a maker may set on a model (GS1 Web Vocabulary, gs1:linkType subproperties). The resolver supplies
# pip, defaultLink, registerProduct and recallStatus itself, so they are not among them.
MAKER_LINK_TYPES = (
    "instructions",
    "support",
    "safetyInfo",
    "quickStartGuide",
    "faqs",
    "tutorial",
    "relatedVideo",
    "serviceInfo",
    "warrantyInfo",
    "certificationInfo",
    "sustainabilityInfo",
    "productSustainabilityInfo",
    "recyclingInfo",
    "whatsInTheBox",
    "userAgreement",
    "review",
)
RESOLVER_LINK_TYPES = ("defaultLink", "pip", "registerProduct", "recallStatus")


class GS1Error(ValueError):
    """Input that is not a valid GS1 identifier or Digital Link; the message says what is wrong, for a person."""


def check_digit(body: str) -> int:
    """The mod-10 check digit of `body` (a GTIN without its last digit): weights 3, 1, 3… from the right."""
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalise_gtin(text: str) -> str:
    """The GTIN-14 of a GTIN-8, -12, -13 or -14, its check digit verified. Raises GS1Error saying what is wrong."""
    gtin = (text or "").strip()
    if not (gtin.isascii() and gtin.isdigit()):
        raise GS1Error("A GTIN is digits only (8, 12, 13 or 14 of them).")
    if len(gtin) not in GTIN_LENGTHS:
        raise GS1Error(f"A GTIN has 8, 12, 13 or 14 digits, not {len(gtin)}.")
    expected = check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise GS1Error(f"The GTIN's check digit is wrong: {gtin} should end in {expected}, not {gtin[-1]}.")
    return gtin.zfill(14)


def is_gtin(text: str) -> bool:
    try:
        normalise_gtin(text)
    except GS1Error:
        return False
    return True


def check_serial(serial: str) -> str:
    """An AI 21 serial as given (no trimming inside): 1 to 20 characters of character set 82. Raises GS1Error."""
    if not isinstance(serial, str) or not serial:
        raise GS1Error("A serial number cannot be empty.")
    if len(serial) > SERIAL_MAX:
        raise GS1Error(f"A serial number has at most {SERIAL_MAX} characters (GS1 AI 21): {serial[:30]!r}.")
    bad = sorted(set(serial) - SERIAL_CHARACTERS)
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        raise GS1Error(
            f"Serial {serial!r} has characters GS1 does not allow in a serial number (AI 21): {shown}. "
            "Use letters, digits and !\"%&'()*+,-./:;<=>?_"
        )
    return serial


def encode_value(value: str) -> str:
    """An AI value in a URI path segment: everything but RFC 3986 unreserved characters percent-encoded."""
    return quote(value, safe="")


def build_path(gtin14: str, serial: str | None = None) -> str:
    """`/01/<gtin14>` or `/01/<gtin14>/21/<serial>` (the serial percent-encoded)."""
    path = f"/01/{gtin14}"
    return path if serial is None else f"{path}/21/{encode_value(serial)}"


@dataclass(frozen=True)
class DigitalLink:
    gtin: str  # GTIN-14, check digit verified
    serial: str | None = None
    lot: str | None = None
    given_gtin: str = ""  # as written in the path (8, 12, 13 or 14 digits)

    @property
    def path(self) -> str:
        return build_path(self.gtin, self.serial)

    @property
    def canonical(self) -> bool:
        """Whether the path was already in its canonical form (GTIN-14)."""
        return self.given_gtin == self.gtin


_QUALIFIERS = ("22", "10", "21")  # URI Syntax §4.5: the fixed order after a GTIN


def parse_path(path: str) -> DigitalLink:
    """A Digital Link path (`/01/<gtin>[/22/<cpv>][/10/<lot>][/21/<serial>]`, optionally below a prefix ending in
    `/01/`), percent-encoded or decoded. Raises GS1Error saying what is wrong.

    A decoded path may carry a `/` inside the serial (character set 82 allows it): the serial is the last
    qualifier, so everything after `/21/` is the serial."""
    if "?" in path:
        path = path.split("?", 1)[0]
    position = path.find("/01/")
    if position < 0:
        raise GS1Error("A GS1 Digital Link for a product starts with /01/ and a GTIN.")
    segments = path[position + 1 :].split("/")
    gtin_text = unquote(segments[1]) if len(segments) > 1 else ""
    gtin = normalise_gtin(gtin_text)
    rest = segments[2:]
    if rest and rest[-1] == "":
        rest = rest[:-1]  # a trailing slash
    values: dict[str, str] = {}
    order = 0
    while rest:
        ai = rest[0]
        if ai not in _QUALIFIERS:
            raise GS1Error(f"/{ai}/ is not a qualifier of a GTIN here (only /22/, /10/ and /21/, in that order).")
        if _QUALIFIERS.index(ai) < order:
            raise GS1Error("The qualifiers of a GTIN come in the order /22/, /10/, /21/.")
        order = _QUALIFIERS.index(ai) + 1
        if ai == "21":
            value, rest = "/".join(rest[1:]), []
        else:
            value, rest = (rest[1] if len(rest) > 1 else ""), rest[2:]
        value = unquote(value)
        if not value:
            raise GS1Error(f"/{ai}/ needs a value after it.")
        values[ai] = value
    serial = values.get("21")
    if serial is not None:
        check_serial(serial)
    return DigitalLink(gtin=gtin, serial=serial, lot=values.get("10"), given_gtin=gtin_text)


def link_type_uri(link_type: str) -> str:
    """`gs1:pip` or `pip` → `https://gs1.org/voc/pip` (a full URI is returned as it is)."""
    if link_type.startswith(("https://", "http://")):
        return link_type
    return VOCABULARY + link_type.removeprefix(PREFIX)


def link_type_curie(link_type: str) -> str:
    """`https://gs1.org/voc/pip` or `pip` → `gs1:pip`."""
    for base in (VOCABULARY, "https://www.gs1.org/voc/", "https://ref.gs1.org/voc/", "http://gs1.org/voc/"):
        if link_type.startswith(base):
            return PREFIX + link_type[len(base) :]
    return link_type if link_type.startswith(PREFIX) else PREFIX + link_type


@dataclass(frozen=True)
class Link:
    link_type: str  # a CURIE: gs1:pip
    href: str
    title: str = ""
    media_type: str = "text/html"

    def target(self) -> dict[str, str]:
        """An RFC 9264 §4.2.2 target object."""
        target = {"href": self.href}
        if self.title:
            target["title"] = self.title
        if self.media_type:
            target["type"] = self.media_type
        return target


def linkset(anchor: str, links: Iterable[Link]) -> dict:
    """The RFC 9264 §4.2 JSON link set of one anchor: `{"linkset": [{"anchor": …, "<relation URI>": [targets]}]}`;
    each relation is the link type's full URI (RFC 9264 §4.2.2: relation types that are not IANA-registered are
    URIs), its targets in the order given."""
    context: dict = {"anchor": anchor}
    for link in links:
        context.setdefault(link_type_uri(link.link_type), []).append(link.target())
    return {"linkset": [context]}


def link_header(items: Iterable[tuple[str, Mapping[str, str]]]) -> str:
    """An RFC 8288 `Link` header value from (target URI, parameters) pairs."""
    parts = []
    for href, params in items:
        rendered = "".join(f'; {name}="{value}"' for name, value in params.items())
        parts.append(f"<{href}>{rendered}")
    return ", ".join(parts)


_CURIE = re.compile(r"^(?:gs1:)?[A-Za-z][A-Za-z0-9]{0,60}$")


def clean_link_type(text: str) -> str:
    """A maker's link type (`gs1:instructions`, `instructions` or its full URI) as a CURIE, if a maker may set
    it. Raises GS1Error naming the choices."""
    curie = link_type_curie((text or "").strip())
    if not _CURIE.match(curie) or curie.removeprefix(PREFIX) not in MAKER_LINK_TYPES:
        choices = ", ".join(PREFIX + name for name in MAKER_LINK_TYPES)
        raise GS1Error(f"{text!r} is not a link type you can set. Choose one of: {choices}.")
    return curie
