import re

import pytest
from django.urls import reverse

from tags.codes import CROCKFORD, SHORT_CODE_LENGTH, format_short_code, new_short_code, new_token, normalize_short_code
from tags.models import Tag
from tags.services import tag_create

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def test_tokens_are_unique_long_url_safe_and_carry_at_least_128_bits():
    tokens = {new_token() for _ in range(5000)}
    assert len(tokens) == 5000
    for token in tokens:
        assert len(token) >= 22 and URL_SAFE.fullmatch(token)
    # 64 symbols → 6 bits a character.
    assert min(len(token) for token in tokens) * 6 >= 128


def test_short_codes_are_eight_crockford_characters_without_i_l_o_u():
    codes = [new_short_code() for _ in range(2000)]
    assert len(set(codes)) > 1990
    for code in codes:
        assert len(code) == SHORT_CODE_LENGTH
        assert set(code) <= set(CROCKFORD)
        assert not set(code) & set("ILOU")


@pytest.mark.parametrize("typed", ["abcd-efgh", "ABCDEFGH", " abcd efgh ", "AbCd-EfGh"])
def test_normalize_accepts_lowercase_spaces_and_hyphens(typed):
    assert normalize_short_code(typed) == "ABCDEFGH"


def test_normalize_reads_o_as_zero_and_i_l_as_one():
    assert normalize_short_code("o0il-1234") == "00111234"


@pytest.mark.parametrize("typed", ["", "ABC", "ABCDEFGHJ", "ABCD-EFG!", "ABCD-EFGU"])
def test_normalize_rejects_what_cannot_be_a_code(typed):
    assert normalize_short_code(typed) is None


def test_format_short_code_puts_a_hyphen_in_the_middle():
    assert format_short_code("ABCDEFGH") == "ABCD-EFGH"


@pytest.mark.django_db
def test_short_code_typed_at_t_redirects_to_the_tag_url(anon_client, grinder):
    tag = tag_create(twin=grinder)
    typed = f"{tag.code[:4].lower()}-{tag.code[4:].lower()}"
    response = anon_client.get(reverse("tag-enter"), {"code": typed})
    assert response.status_code == 302
    assert response.url == f"/t/{tag.token}"


@pytest.mark.django_db
def test_short_code_with_o_typed_for_zero_still_resolves(anon_client, grinder):
    tag = Tag.objects.create(twin=grinder, code="0A0B0C0D")
    response = anon_client.get(reverse("tag-enter"), {"code": "oaob-ocod"})
    assert response.status_code == 302 and response.url == tag.get_absolute_url()


@pytest.mark.django_db
def test_unknown_short_code_is_the_friendly_404_with_the_code_box(anon_client):
    response = anon_client.get(reverse("tag-enter"), {"code": "ZZZZ-ZZZZ"})
    assert response.status_code == 404
    assert 'name="code"' in response.content.decode()


@pytest.mark.django_db
def test_code_entry_page_is_a_form(anon_client):
    response = anon_client.get(reverse("tag-enter"))
    assert response.status_code == 200
    assert 'name="code"' in response.content.decode()


@pytest.mark.django_db
def test_unknown_token_is_the_friendly_404_with_the_code_box(anon_client):
    response = anon_client.get("/t/" + new_token())
    assert response.status_code == 404
    body = response.content.decode()
    assert 'name="code"' in body and "tag code" in body.lower()


@pytest.mark.django_db
def test_malformed_token_is_a_404_too(anon_client):
    assert anon_client.get("/t/not a token!").status_code == 404


@pytest.mark.django_db
def test_tag_of_an_archived_thing_looks_like_an_unknown_tag(anon_client, grinder_tag):
    from twins.services import twin_set_archived

    twin_set_archived(twin=grinder_tag.twin, archived=True)
    archived = anon_client.get(grinder_tag.get_absolute_url())
    unknown = anon_client.get("/t/" + new_token())
    assert archived.status_code == 404
    assert archived.content == unknown.content
    assert "Coffee grinder" not in archived.content.decode()
