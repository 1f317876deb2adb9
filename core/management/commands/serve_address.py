"""`python manage.py serve_address --host H --port P`: before `make run` starts the server, say where it is.

Prints the address links carry (SITE_URL), how to open it from a phone, a QR code of it in the terminal when the
server serves the local network, and a warning for each way SITE_URL disagrees with where the server listens.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from core.address import ALL_INTERFACES, address_warnings, is_loopback, lan_address, terminal_qr


class Command(BaseCommand):
    help = "Print the address this server's links use, and warn when SITE_URL does not match HOST/PORT."
    # It reads two settings: the server's own start runs the checks, so this stays instant.
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options) -> None:
        serves_network = host in ALL_INTERFACES
        lan = lan_address() if serves_network else None
        site = settings.SITE_URL
        self.stdout.write(f"Thingstead at {site}/  (Ctrl-C to stop)")
        if serves_network and not is_loopback(urlsplit(site).hostname or ""):
            self.stdout.write("Open it from a phone on the same network: scan this, or type the address.")
            self.stdout.write(terminal_qr(f"{site}/"))
        elif serves_network:
            self.stdout.write("No network address found to show phones (offline?): this computer only for now.")
        else:
            self.stdout.write("This computer only. To open it from a phone on your network: make run HOST=0.0.0.0")
        warnings = address_warnings(site_url=site, did_domain=settings.DID_DOMAIN, host=host, port=port, lan=lan)
        for warning in warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
