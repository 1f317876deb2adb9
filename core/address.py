"""Where this instance is reachable, and whether the configured public address (SITE_URL) agrees.

Every printed or shared link (tag QR codes and labels, transfer offers, invitations, emails, the DIDComm
endpoint in each twin's DID document) is built from SITE_URL. `make run` computes it from HOST and PORT with
`python -m core.address url --host H --port P` (unless SITE_URL is given), then `manage.py serve_address` prints
the address phones can use and warns about a mismatch before the server starts.

Plain standard library, no Django: settings import `did_domain_for` and the Makefile runs this file before
Django is configured.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import socket
import sys
from urllib.parse import urlsplit

# Where a development server is opened on this computer: Chromium and Firefox map *.localhost to loopback, and
# it is a DNS name with two labels, which a did:webvh domain needs (an IP address is not allowed there).
LOCAL_NAME = "thingstead.localhost"
ALL_INTERFACES = frozenset({"0.0.0.0", "::", "[::]", ""})  # noqa: S104 (recognised, not bound)
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_PORTS = {"http": 80, "https": 443}


def lan_address() -> str | None:
    """This machine's address on its local network (the interface of the default route), or None offline.

    Connecting a UDP socket sends nothing; it only asks the kernel which source address it would use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): never routed anywhere real
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if is_loopback(address) or address in ALL_INTERFACES else address


def is_loopback(host: str) -> bool:
    """Only this computer can open it: 127.0.0.0/8, ::1, localhost and *.localhost (RFC 6761)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serving_url(*, host: str, port: int, lan: str | None) -> str:
    """The base URL links should carry for a server bound to `host`:`port`.

    Bound to every interface: the LAN address, so a phone on the same network can open a QR code. Bound to
    loopback: the local name (this computer only). Bound to a named address: that address.
    """
    if host in ALL_INTERFACES:
        name = lan or LOCAL_NAME
    elif is_loopback(host):
        name = LOCAL_NAME
    else:
        name = host
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return f"http://{name}:{port}"


def is_dns_name(host: str) -> bool:
    """A did:webvh domain: a DNS name of at least two labels whose last starts with a letter (not an IP)."""
    labels = host.lower().split(".")
    return len(labels) >= 2 and all(_DNS_LABEL.match(label) for label in labels) and labels[-1][0].isalpha()


def did_domain_for(site_url: str) -> str:
    """The domain new twins' DIDs are minted under when DID_DOMAIN is not set: SITE_URL's host and port.

    An IP address cannot be a did:webvh domain, so a SITE_URL on a LAN address (`make run HOST=0.0.0.0`) mints
    under `thingstead.localhost` with the same port: the DIDs stay valid, and the warning says so.
    """
    parts = urlsplit(site_url)
    host = parts.hostname or ""
    if is_dns_name(host):
        return parts.netloc.rsplit("@", 1)[-1]
    return LOCAL_NAME + (f":{parts.port}" if parts.port else "")


def _port_of(parts) -> int | None:
    try:
        return parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None


def address_warnings(*, site_url: str, did_domain: str, host: str, port: int, lan: str | None) -> list[str]:
    """What is wrong with serving on `host`:`port` while links say `site_url`, each with what to do."""
    warnings: list[str] = []
    parts = urlsplit(site_url)
    site_host = (parts.hostname or "").lower()
    suggested = serving_url(host=host, port=port, lan=lan)
    if parts.scheme not in ("http", "https") or not site_host:
        return [f"SITE_URL {site_url!r} is not an http(s) address: links will not open. Leave SITE_URL unset."]
    site_port = _port_of(parts)
    if parts.scheme == "http" and site_port != port:
        warnings.append(
            f"SITE_URL is {site_url} but the server listens on port {port}: QR codes, offer links and emails "
            f"will point to port {site_port}. Unset SITE_URL (make run computes {suggested}) or set the port."
        )
    bound_to_all = host in ALL_INTERFACES
    if bound_to_all and is_loopback(site_host):
        warnings.append(
            f"The server accepts connections from your network, but SITE_URL ({site_url}) names this computer "
            f"only: a phone cannot open the QR codes. Unset SITE_URL to use {suggested}."
        )
    elif is_loopback(host) and not is_loopback(site_host):
        warnings.append(
            f"SITE_URL ({site_url}) names another machine's view of this one, but the server listens on {host} "
            "(this computer only): phones cannot reach it. Run with HOST=0.0.0.0 to serve your network."
        )
    did_host = did_domain.split(":", 1)[0].lower()
    if did_host != site_host:
        warnings.append(
            f"New twins' DIDs are minted under {did_domain}, not {site_host} (a DID needs a DNS name, and a DID "
            "is permanent). For DIDs that resolve, serve under a DNS name and set SITE_URL (or DID_DOMAIN)."
        )
    return warnings


def terminal_qr(url: str) -> str:
    """The URL as a QR code drawn with text, for a phone to scan off the terminal."""
    import io

    import qrcode

    code = qrcode.QRCode(border=2)
    code.add_data(url)
    code.make(fit=True)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """`python -m core.address url --host H --port P`: print the SITE_URL `make run` should use."""
    parser = argparse.ArgumentParser(prog="python -m core.address")
    parser.add_argument("what", choices=["url"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    print(serving_url(host=args.host, port=args.port, lan=lan_address() if args.host in ALL_INTERFACES else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
