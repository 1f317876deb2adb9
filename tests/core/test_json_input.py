"""Every JSON API body is read by one parser (core.drf.StrictJSONParser): text that is not valid Unicode is a 400
naming where it is, before any view sees it."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ParseError

from core.parsers import StrictJSONParser
from twins.models import Twin

LONE_SURROGATE = '"\\ud800"'  # a JSON escape of half a UTF-16 pair: valid JSON, not a Unicode string


def _post(client, url: str, body: str, method: str = "post"):
    return getattr(client, method)(url, data=body, content_type="application/json")


def test_a_lone_surrogate_in_a_choice_field_is_a_400_naming_the_field(alice_api):
    response = _post(alice_api, "/api/things/", '{"name": "x", "icon": ' + LONE_SURROGATE + "}")
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["message"]
    assert "icon" in response.json()["message"]
    assert not Twin.objects.filter(name="x").exists()


def test_a_lone_surrogate_in_a_change_is_a_400_and_changes_nothing(alice_api, grinder):
    response = _post(alice_api, f"/api/things/{grinder.slug}/", '{"icon": ' + LONE_SURROGATE + "}", method="patch")
    assert response.status_code == 400
    grinder.refresh_from_db()
    assert grinder.icon != "\ud800"


def test_a_lone_surrogate_in_a_key_is_refused_too(alice_api):
    response = _post(alice_api, "/api/things/", '{"name": "y", ' + LONE_SURROGATE + ": 1}")
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    ['{"a": "caf\\u00e9 \\ud83d\\ude00"}', '{"a": ["\\u00e9", {"b": "ok"}]}', "[1, 2.5, null, true]"],
)
def test_valid_escapes_and_pairs_are_read_as_they_are(body):
    import io
    import json

    assert StrictJSONParser().parse(io.BytesIO(body.encode())) == json.loads(body)


def test_the_parser_names_the_path_of_a_nested_lone_surrogate():
    import io

    body = '{"readings": [{"kind": "t"}, {"kind": "\\udc00x"}]}'
    with pytest.raises(ParseError, match=r"readings\[1\]\.kind"):
        StrictJSONParser().parse(io.BytesIO(body.encode()))
