"""makers.gs1: GTIN check digits and lengths, AI 21 serials, Digital Link paths, RFC 9264 link sets."""

from __future__ import annotations

import pytest

from makers import gs1


@pytest.mark.parametrize(
    ("given", "gtin14"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("614141000036", "00614141000036"),  # GTIN-12 (UPC-A)
        ("9506000134352", "09506000134352"),  # GTIN-13
        ("09506000134352", "09506000134352"),  # GTIN-14
        ("10614141000033", "10614141000033"),  # GTIN-14 with an indicator digit
    ],
)
def test_valid_gtins_of_8_12_13_and_14_digits_normalise_to_14(given, gtin14):
    assert gs1.normalise_gtin(given) == gtin14


@pytest.mark.parametrize("given", ["96385075", "614141000037", "9506000134353", "09506000134351"])
def test_a_wrong_check_digit_is_refused_with_the_digit_it_should_be(given):
    with pytest.raises(gs1.GS1Error, match="check digit is wrong") as refused:
        gs1.normalise_gtin(given)
    assert f"should end in {gs1.check_digit(given[:-1])}" in str(refused.value)


@pytest.mark.parametrize("given", ["", "1234567", "123456789", "12345678901", "123456789012345", "95060001343a2"])
def test_gtins_of_other_lengths_or_with_letters_are_refused(given):
    with pytest.raises(gs1.GS1Error):
        gs1.normalise_gtin(given)


@pytest.mark.parametrize("serial", ["1", "ABC-123", "a/b", "x" * 20, "!\"%&'()*+,-./:;<=>?_"])
def test_serials_of_ai_21_characters_up_to_20_are_accepted(serial):
    assert gs1.check_serial(serial) == serial


@pytest.mark.parametrize("serial", ["", "x" * 21, "has space", "é", "tab\t", "hash#", "at@"])
def test_serials_outside_ai_21_rules_are_refused(serial):
    with pytest.raises(gs1.GS1Error):
        gs1.check_serial(serial)


def test_a_digital_link_path_round_trips_with_a_percent_encoded_serial():
    path = gs1.build_path("09506000134352", "A/1 ?")
    assert path == "/01/09506000134352/21/A%2F1%20%3F"
    with pytest.raises(gs1.GS1Error):  # the space is not an AI 21 character
        gs1.parse_path(path)
    path = gs1.build_path("09506000134352", "A/1?")
    link = gs1.parse_path(path)
    assert (link.gtin, link.serial, link.canonical) == ("09506000134352", "A/1?", True)


def test_a_decoded_serial_with_a_slash_is_everything_after_21():
    assert gs1.parse_path("/01/09506000134352/10/LOT7/21/AB/CD").serial == "AB/CD"
    assert gs1.parse_path("/01/09506000134352/10/LOT7/21/AB/CD").lot == "LOT7"


def test_a_short_gtin_in_a_path_is_not_canonical():
    link = gs1.parse_path("/01/9506000134352/21/X1")
    assert link.gtin == "09506000134352" and not link.canonical
    assert link.path == "/01/09506000134352/21/X1"


@pytest.mark.parametrize(
    "path",
    [
        "/01/09506000134352/21/",
        "/01/09506000134352/99/x",
        "/01/09506000134352/21/a%20b",
        "/01/09506000134352/10/L/22/V",
        "/02/123",
    ],
)
def test_malformed_digital_links_are_refused(path):
    with pytest.raises(gs1.GS1Error):
        gs1.parse_path(path)


def test_link_types_are_curies_and_full_uris_alike():
    assert gs1.link_type_uri("gs1:pip") == "https://gs1.org/voc/pip"
    assert gs1.link_type_curie("https://gs1.org/voc/recallStatus") == "gs1:recallStatus"
    assert gs1.clean_link_type("instructions") == "gs1:instructions"
    with pytest.raises(gs1.GS1Error, match="Choose one of"):
        gs1.clean_link_type("gs1:pip")  # the resolver's own


def test_a_linkset_is_rfc_9264_json():
    body = gs1.linkset(
        "https://x.example/01/09506000134352",
        [gs1.Link("gs1:pip", "https://x.example/m"), gs1.Link("gs1:pip", "https://x.example/n", "N")],
    )
    assert body == {
        "linkset": [
            {
                "anchor": "https://x.example/01/09506000134352",
                "https://gs1.org/voc/pip": [
                    {"href": "https://x.example/m", "type": "text/html"},
                    {"href": "https://x.example/n", "title": "N", "type": "text/html"},
                ],
            }
        ]
    }
