"""Webhook endpoints in a move from a hostile source (issue 18's security review): a copied endpoint's URL gets the
checks of its creation (sharing.grants.webhook_url_clean, SECURITY 40). One that fails arrives disabled, saying why;
the thing, its grant and its delivery log still arrive, and nothing is sent there."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest

from sharing import grants
from sharing.models import Grant, WebhookEndpoint
from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.needs("sharing"), pytest.mark.usefixtures("on_a")]

PUBLIC = "https://93.184.215.14/hook"  # an address literal: netguard needs no DNS for it


@pytest.fixture
def hooked(alice, grinder):
    """The grinder's readings go to alice's endpoint at a public https address."""
    endpoint, _ = grants.webhook_endpoint_create(owner=alice, label="Insurer", url=PUBLIC)
    grants.grant_create(twin=grinder, party=endpoint, kinds=["readings"], by=alice)
    return grinder


def _pointing_at(url: str):
    def tamper(package: dict) -> None:
        package["parts"]["sharing"]["endpoints"][0]["url"] = url

    return tamper


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1:8080/hook", "private network"),  # loopback: the destination's own services
        ("https://169.254.169.254/latest/meta-data", "private network"),  # a cloud metadata service
        ("http://93.184.215.14/hook", "https"),  # plain http
        ("https://user:secret@93.184.215.14/hook", "user names"),
        ("ftp://93.184.215.14/hook", "https://"),
    ],
)
def test_an_endpoint_url_this_instance_would_not_create_arrives_disabled(mover, hooked, bob, settings, url, why):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False  # as in production
    _, moved = mover(hooked, to_owner=bob, tamper=_pointing_at(url))
    endpoint = WebhookEndpoint.objects.get(owner=bob)
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_reason.startswith("Disabled on arrival:") and why in endpoint.disabled_reason
    assert Grant.objects.get(twin=moved).endpoint == endpoint  # the grant came along; nothing goes there


def test_a_public_https_endpoint_arrives_enabled(mover, hooked, bob, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    mover(hooked, to_owner=bob)
    endpoint = WebhookEndpoint.objects.get(owner=bob)
    assert endpoint.url == PUBLIC and endpoint.disabled_at is None and endpoint.disabled_reason == ""
