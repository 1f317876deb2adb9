"""An owner's own time zone: the one their pages and emails show dates in, preferred over the browser's.

The browser's zone (the `tz` cookie static/js/tz.js sets) is only known from the second page on, and never in an
email; an owner who sets theirs (profile, or pre-filled at sign-up from the browser) sees it everywhere at once.
Empty means "follow the browser". Names are the IANA zones this machine's zoneinfo knows (Europe/Berlin).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.middleware import viewer_time_zone

AUTOMATIC = ""


@cache
def zone_names() -> frozenset[str]:
    # "localtime" and "Factory" are not places a person lives in.
    return frozenset(name for name in available_timezones() if "/" in name or name == "UTC")


def zone_choices() -> list[tuple[str, str]]:
    """For a select: "the browser's" first, then every zone by name (underscores read as spaces)."""
    return [(AUTOMATIC, "Automatic (your browser's)")] + [
        (name, name.replace("_", " ")) for name in sorted(zone_names())
    ]


def validate_time_zone(value: str) -> None:
    if value and value not in zone_names():
        raise ValidationError(
            f"{value[:64]!r} is not a time zone we know: choose one from the list, like Europe/Berlin."
        )


def owner_zone(owner) -> ZoneInfo | None:
    """The owner's own zone, or None when they follow their browser (or it is no longer known)."""
    return viewer_time_zone(getattr(owner, "time_zone", "") or "")


def owner_time(owner, moment: datetime) -> str:
    """A moment as the owner reads it (emails: no browser to ask): "2026-12-05 20:15 Europe/Berlin", in UTC for
    an owner with no zone of their own."""
    zone = owner_zone(owner) or ZoneInfo("UTC")
    return f"{timezone.localtime(moment, zone).strftime('%Y-%m-%d %H:%M')} {zone.key}"
