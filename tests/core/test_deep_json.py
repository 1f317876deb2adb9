"""Untrusted JSON is read by one function, core.parsers.loads (and the API's one parser through it): text nested
deeper than the interpreter recurses, or a number of more digits than int() takes, is a ValueError in words, so
every reader that refuses broken JSON refuses these too. Before, `[[[[…` 100,000 deep (200 KB) raised
RecursionError: a 500 on every API route, anonymous ones included, and in the HTML forms that read JSON."""

from __future__ import annotations

import io
import json

import pytest
from rest_framework.exceptions import ParseError

from core.parsers import JSONRefused, StrictJSONParser, loads, raw_decode
from twins.models import Twin
from twins.transfer_forms import SignedJsonForm

DEEP = "[" * 100_000 + "]" * 100_000
LONG_NUMBER = '{"serial": ' + "1" * 5000 + "}"


@pytest.mark.parametrize("text", [DEEP, DEEP.encode(), '{"a": ' + DEEP + "}"])
def test_json_nested_too_deeply_is_a_value_error_in_words(text):
    with pytest.raises(JSONRefused, match="nested too deeply"):
        loads(text)


def test_a_number_of_5000_digits_is_a_value_error_in_words():
    with pytest.raises(JSONRefused, match="too many digits"):
        loads(LONG_NUMBER)
    with pytest.raises(JSONRefused, match="too many digits"):
        raw_decode(LONG_NUMBER)


def test_broken_json_and_bad_bytes_are_the_errors_they_were():
    with pytest.raises(json.JSONDecodeError):
        loads("[1,")
    with pytest.raises(UnicodeDecodeError):
        loads(b"\xff")


def test_json_not_too_deep_reads_as_json_loads_reads_it():
    text = '{"a": ' + "[" * 200 + "1" + "]" * 200 + ', "n": 12345678901234567890}'
    assert loads(text) == json.loads(text)
    assert raw_decode('  {"a": 1} tail', 2) == ({"a": 1}, 10)


def test_the_api_parser_answers_a_deep_body_with_a_parse_error_in_words():
    with pytest.raises(ParseError, match="nested too deeply"):
        StrictJSONParser().parse(io.BytesIO(DEEP.encode()))


@pytest.mark.django_db
def test_a_deep_body_is_a_400_for_a_signed_in_owner_and_writes_nothing(alice_api, grinder):
    for url in ("/api/things/", f"/api/things/{grinder.slug}/readings/"):
        response = alice_api.post(url, data=DEEP, content_type="application/json")
        assert response.status_code == 400, url
        assert "nested too deeply" in response.json()["message"]
    assert Twin.objects.count() == 1 and not grinder.readings.exists()


def test_a_deep_signed_json_paste_is_a_form_error_in_words():
    text = "[" * 99_000 + "]" * 99_000  # under the field's 200,000 characters
    form = SignedJsonForm({"signed": text})
    assert not form.is_valid()
    assert form.errors["signed"] == [
        "This is not valid JSON: the JSON is nested too deeply (arrays or objects inside each other)"
    ]


def test_a_lone_surrogate_deep_in_a_document_the_parser_read_is_still_a_parse_error():
    # Read by the C parser, but too deep to walk again in Python frames looking for the bad string's path.
    body = "[" * 1200 + '"\\ud800"' + "]" * 1200
    with pytest.raises(ParseError, match="The body: not valid Unicode"):
        StrictJSONParser().parse(io.BytesIO(body.encode()))
