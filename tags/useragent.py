"""A coarse reading of the User-Agent header: enough for "Android · Chrome", never the full string.

Scans keep only this, so the scan log cannot fingerprint a finder.
"""

from __future__ import annotations

MAX_LENGTH = 60

# Order matters: iPads say "Macintosh" in desktop mode and Android says "Linux"; Edge and Opera say "Chrome".
_PLATFORMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "Mac"),
    ("Mac OS X", "Mac"),
    ("Linux", "Linux"),
)
_BROWSERS = (
    ("Edg", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS", "Firefox"),
    ("CriOS", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_BOTS = ("bot", "crawler", "spider", "curl/", "wget/", "python-", "httpclient", "okhttp", "go-http")


def coarse_user_agent(header: str) -> str:
    """ "Android · Chrome", "iPhone · Safari", "Bot", or "" when nothing is recognised."""
    if not header:
        return ""
    lowered = header.lower()
    if any(marker in lowered for marker in _BOTS):
        return "Bot"
    platform = next((name for marker, name in _PLATFORMS if marker in header), "")
    browser = next((name for marker, name in _BROWSERS if marker in header), "")
    return " · ".join(part for part in (platform, browser) if part)[:MAX_LENGTH]
