"""Where links point (core.address and `manage.py serve_address`): the address `make run` gives SITE_URL from
HOST/PORT, the DID domain that follows from it, and the warnings when SITE_URL and the server disagree."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from core.address import address_warnings, did_domain_for, is_loopback, lan_address, serving_url
from ssi import webvh

ROOT = Path(__file__).resolve().parents[2]


def test_serving_every_interface_links_to_the_lan_address_on_the_served_port():
    assert serving_url(host="0.0.0.0", port=8200, lan="192.168.1.23") == "http://192.168.1.23:8200"


def test_serving_loopback_links_to_the_local_name_on_the_served_port():
    assert serving_url(host="127.0.0.1", port=8200, lan=None) == "http://thingstead.localhost:8200"


def test_serving_every_interface_offline_falls_back_to_the_local_name():
    assert serving_url(host="0.0.0.0", port=8000, lan=None) == "http://thingstead.localhost:8000"


def test_serving_a_named_address_links_to_it():
    assert serving_url(host="10.0.0.5", port=9000, lan="192.168.1.23") == "http://10.0.0.5:9000"


def test_did_domain_follows_a_dns_site_url_with_its_port():
    assert did_domain_for("https://things.example.org") == "things.example.org"
    assert did_domain_for("http://thingstead.localhost:8200") == "thingstead.localhost:8200"


def test_did_domain_of_an_ip_site_url_is_a_valid_did_domain_on_the_same_port():
    domain = did_domain_for("http://192.168.1.23:8200")
    assert domain == "thingstead.localhost:8200"
    # The domain must make a DID the did:webvh rules accept (an IP address is refused there).
    webvh.make_did(webvh.SCID_PLACEHOLDER, domain)
    with pytest.raises(webvh.DIDError):
        webvh.make_did(webvh.SCID_PLACEHOLDER, "192.168.1.23:8200")


def test_loopback_names():
    assert is_loopback("127.0.0.1") and is_loopback("thingstead.localhost") and is_loopback("[::1]")
    assert not is_loopback("192.168.1.23") and not is_loopback("things.example.org")


def test_matching_address_gives_no_warning():
    warnings = address_warnings(
        site_url="http://thingstead.localhost:8200",
        did_domain="thingstead.localhost:8200",
        host="127.0.0.1",
        port=8200,
        lan=None,
    )
    assert warnings == []


def test_site_url_on_another_port_than_the_server_is_warned_with_the_fix():
    (warning,) = address_warnings(
        site_url="http://thingstead.localhost:8000",
        did_domain="thingstead.localhost:8000",
        host="127.0.0.1",
        port=8200,
        lan=None,
    )
    assert "port 8200" in warning and "port 8000" in warning and "http://thingstead.localhost:8200" in warning


def test_serving_the_network_with_a_loopback_site_url_is_warned():
    warnings = address_warnings(
        site_url="http://thingstead.localhost:8200",
        did_domain="thingstead.localhost:8200",
        host="0.0.0.0",
        port=8200,
        lan="192.168.1.23",
    )
    assert len(warnings) == 1 and "phone" in warnings[0] and "http://192.168.1.23:8200" in warnings[0]


def test_a_lan_site_url_while_serving_loopback_only_is_warned():
    warnings = address_warnings(
        site_url="http://192.168.1.23:8200",
        did_domain="thingstead.localhost:8200",
        host="127.0.0.1",
        port=8200,
        lan=None,
    )
    assert any("HOST=0.0.0.0" in warning for warning in warnings)


def test_did_domain_other_than_the_site_host_is_explained():
    warnings = address_warnings(
        site_url="http://192.168.1.23:8200",
        did_domain="thingstead.localhost:8200",
        host="0.0.0.0",
        port=8200,
        lan="192.168.1.23",
    )
    assert len(warnings) == 1 and "DIDs are minted under thingstead.localhost:8200" in warnings[0]


def test_address_module_prints_the_url_make_run_gives_site_url():
    out = subprocess.run(
        [sys.executable, "-m", "core.address", "url", "--host", "127.0.0.1", "--port", "8200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "http://thingstead.localhost:8200"


def _make_dry_run(*args: str) -> str:
    return subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_run_sets_site_url_from_host_and_port_then_checks_it():
    """`make run` computes SITE_URL before the demo data and the server start, then runs the address check."""
    recipe = _make_dry_run("run", "HOST=0.0.0.0", "PORT=8200")
    expected = serving_url(host="0.0.0.0", port=8200, lan=lan_address())
    assert f'SITE_URL="{expected}" .venv/bin/python manage.py load_demo' in recipe
    assert f'export SITE_URL="{expected}"' in recipe
    assert recipe.index("serve_address --host 0.0.0.0 --port 8200") < recipe.index("daphne -b 0.0.0.0 -p 8200")


def test_make_run_keeps_a_given_site_url():
    recipe = _make_dry_run("run", "PORT=8200", "SITE_URL=https://things.example.org")
    assert 'export SITE_URL="https://things.example.org"' in recipe
    assert "thingstead.localhost" not in recipe


def test_serve_address_prints_the_address_and_warns_on_a_port_mismatch(settings):
    settings.SITE_URL = "http://thingstead.localhost:8000"
    settings.DID_DOMAIN = "thingstead.localhost:8000"
    out, err = StringIO(), StringIO()
    call_command("serve_address", host="127.0.0.1", port=8200, stdout=out, stderr=err)
    assert "Thingstead at http://thingstead.localhost:8000/" in out.getvalue()
    assert "HOST=0.0.0.0" in out.getvalue()
    assert "listens on port 8200" in err.getvalue()


def test_serve_address_draws_a_qr_of_the_lan_address_for_phones(settings):
    settings.SITE_URL = "http://192.168.1.23:8200"
    settings.DID_DOMAIN = "thingstead.localhost:8200"
    out, err = StringIO(), StringIO()
    call_command("serve_address", host="0.0.0.0", port=8200, stdout=out, stderr=err)
    assert "Thingstead at http://192.168.1.23:8200/" in out.getvalue()
    assert "█" in out.getvalue()  # the QR code, drawn with block characters
    assert "listens on port" not in err.getvalue()
