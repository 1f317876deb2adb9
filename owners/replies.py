"""Reply links for what a finder left: `mailto:` for an email address, `tel:` and `sms:` for a phone number, so
the owner answers with one tap from the inbox instead of copying the contact by hand."""

from __future__ import annotations

import re
from urllib.parse import quote

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# What tags' message form accepts as a phone number, with its separators: digits after an optional "+".
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-/]{6,30}$")


def reply_links(contact: str, *, subject: str = "") -> list[tuple[str, str]]:
    """[(label, href)] to answer `contact`; [] when it is neither an email address nor a phone number."""
    contact = (contact or "").strip()
    if not contact:
        return []
    if "@" in contact:
        try:
            validate_email(contact)
        except ValidationError:
            return []
        query = f"?subject={quote(subject)}" if subject else ""
        return [("Reply by email", f"mailto:{quote(contact, safe='@+')}{query}")]
    if _PHONE_CHARS.fullmatch(contact):
        number = ("+" if contact.startswith("+") else "") + re.sub(r"\D", "", contact)
        if len(number.lstrip("+")) >= 6:
            return [("Call", f"tel:{number}"), ("Send a text", f"sms:{number}")]
    return []
