"""What the owner pastes on the destination names the source instance; on the source, the twin it asked for."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from moves.sources import parse_source, twin_for

SCID = "QmfGEUAcMpzo25kF2Rhn8L5FAXysfGnkzjwdKoNPi615XQ"


def test_a_did_names_its_host_over_https():
    source = parse_source(f"  did:webvh:{SCID}:things.example.org:twins:abc  ")
    assert source.base_url == "https://things.example.org"
    assert source.did == f"did:webvh:{SCID}:things.example.org:twins:abc"
    assert source.scid == SCID
    assert source.asked_for == source.did


def test_a_did_with_a_port_keeps_it_and_the_setting_maps_a_domain(settings):
    assert parse_source(f"did:webvh:{SCID}:a.example%3A8443:twins:x").base_url == "https://a.example:8443"
    settings.MOVES_HOST_URLS = {"a.localhost:8001": "http://127.0.0.1:8001/"}
    assert parse_source(f"did:webvh:{SCID}:a.localhost%3A8001:twins:x").base_url == "http://127.0.0.1:8001"
    settings.MOVES_HOST_URLS = {"a.localhost%3A8001": "http://127.0.0.1:9001"}
    assert parse_source(f"did:webvh:{SCID}:a.localhost%3A8001:twins:x").base_url == "http://127.0.0.1:9001"


def test_a_page_address_names_its_host_and_keeps_its_path():
    source = parse_source("HTTPS://Old.Example/things/abc/")
    assert source.base_url == "https://old.example"
    assert source.asked_for == "https://old.example/things/abc/"
    assert source.did == ""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Paste the thing's DID"),
        ("grinder", "Paste the thing's DID"),
        ("did:web:example.com", "not a did:webvh DID"),
        (f"did:webvh:{SCID}:127.0.0.1", "not a did:webvh DID"),
        ("https://old.example/", "address of a site, not of a thing's page"),
        ("https://old.example:99999/things/x/", "malformed"),
        ("x" * 501, "Paste the thing's DID"),
        # Issue 18 review: a user part reads as one host and reaches another; a query or fragment hides things too.
        ("https://things.example.org@evil.example/things/x/", "without a user name"),
        ("https://user:pw@old.example/things/x/", "without a user name"),
        ("https://old.example/things/x/?x=1", "without a user name, a query"),
        ("https://old.example/things/x/#y", "without a user name, a query"),
    ],
)
def test_anything_else_is_refused_saying_what_to_paste(text, reason):
    with pytest.raises(ValidationError) as caught:
        parse_source(text)
    assert reason in caught.value.message_dict["source"][0]


def test_a_thing_on_this_instance_is_not_brought_here(settings):
    settings.SITE_URL = "https://here.example"
    with pytest.raises(ValidationError, match="on this instance already"):
        parse_source("https://here.example/things/abc/")


def test_the_source_finds_its_twin_by_did_or_by_a_page_path(grinder):
    assert twin_for(grinder.did) == grinder
    assert twin_for(f"https://whatever.example/things/{grinder.slug}/") == grinder
    assert twin_for(f"https://whatever.example/things/{grinder.slug}") == grinder
    assert twin_for(f"https://whatever.example/things/{grinder.slug}/readings/") == grinder
    assert twin_for(f"https://whatever.example/twins/{grinder.slug}/did.jsonl") == grinder


def test_the_source_finds_nothing_for_other_paths_or_unknown_things(grinder):
    assert twin_for(grinder.did + "x") is None
    assert twin_for("https://whatever.example/things/nope/") is None
    assert twin_for("https://whatever.example/login/") is None
    assert twin_for(f"https://whatever.example/transfer/{grinder.slug}") is None
    assert twin_for("not a url at all") is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://things.example.org@evil.example", "evil.example"),
        ("https://a:b@evil.example:8443", "evil.example:8443"),
        ("http://127.0.0.1:8001", "127.0.0.1:8001"),
        ("https://[::1]:8443", "[::1]:8443"),
        ("https://b.example", "b.example"),
    ],
)
def test_a_host_is_shown_by_its_name_and_port_only_never_a_user_part(url, shown):
    from moves.models import host_of

    assert host_of(url) == shown
