"""The stranger's page shows only what the owner switched on, from the profile card or the thing's own card."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from owners.services import owner_update_contact
from twins.services import twin_set_lost, twin_set_photo, twin_update

pytestmark = pytest.mark.django_db

CONTACT = {
    "name": "Alice Lidell",
    "email": "alice.contact@example.net",
    "phone": "+44 20 7946 0958",
    "message": "Please leave it at the front desk.",
}


def _page(client, tag) -> str:
    response = client.get(tag.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def _set_card(owner, twin, *, source: str, field: str, shown: bool) -> None:
    fields = {f"contact_{key}": value for key, value in CONTACT.items()}
    fields[f"show_{field}"] = shown
    if source == "profile":
        owner_update_contact(owner=owner, **fields)
        twin_update(twin=twin, use_profile_contact=True)
    else:
        # The profile shows everything; the thing's own card must win.
        owner_update_contact(
            owner=owner,
            **{f"contact_{key}": f"profile {key}" for key in ("name", "phone", "message")},
            contact_email="profile@example.net",
            **{f"show_{key}": True for key in CONTACT},
        )
        twin_update(twin=twin, use_profile_contact=False, **fields)


@pytest.mark.parametrize("source", ["profile", "thing"])
@pytest.mark.parametrize("field", ["name", "email", "phone", "message"])
def test_contact_field_is_absent_when_off_and_present_when_on(anon_client, alice, grinder, grinder_tag, field, source):
    _set_card(alice, grinder, source=source, field=field, shown=False)
    page = _page(anon_client, grinder_tag)
    for value in CONTACT.values():
        assert value not in page
    assert "profile" not in page

    _set_card(alice, grinder, source=source, field=field, shown=True)
    page = _page(anon_client, grinder_tag)
    assert CONTACT[field] in page
    for other, value in CONTACT.items():
        if other != field:
            assert value not in page
    assert "profile" not in page


def test_thing_name_is_shown_by_default_and_hidden_when_off(anon_client, grinder, grinder_tag):
    assert "Coffee grinder" in _page(anon_client, grinder_tag)
    twin_update(twin=grinder, show_thing_name=False)
    page = _page(anon_client, grinder_tag)
    assert "Coffee grinder" not in page


def test_description_is_absent_when_off_and_present_when_on(anon_client, grinder, grinder_tag):
    twin_update(twin=grinder, description="Burr set replaced in May.")
    assert "Burr set replaced" not in _page(anon_client, grinder_tag)
    twin_update(twin=grinder, show_description=True)
    assert "Burr set replaced" in _page(anon_client, grinder_tag)


def _photo() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 40)).save(out, format="PNG")
    return SimpleUploadedFile("grinder.png", out.getvalue(), content_type="image/png")


def test_photo_is_absent_and_not_served_when_off_present_and_served_when_on(anon_client, grinder, grinder_tag):
    twin_set_photo(twin=grinder, photo=_photo())
    photo_url = reverse("tag-public-photo", args=[grinder_tag.token])
    assert photo_url not in _page(anon_client, grinder_tag)
    assert anon_client.get(photo_url).status_code == 404

    twin_update(twin=grinder, show_photo=True)
    assert photo_url in _page(anon_client, grinder_tag)
    response = anon_client.get(photo_url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_photo_switched_on_without_a_photo_shows_no_image(anon_client, grinder, grinder_tag):
    twin_update(twin=grinder, show_photo=True)
    photo_url = reverse("tag-public-photo", args=[grinder_tag.token])
    assert photo_url not in _page(anon_client, grinder_tag)
    assert anon_client.get(photo_url).status_code == 404


def test_owner_username_and_email_never_reach_a_stranger_by_default(carol_client, anon_client, alice, grinder_tag):
    for client in (anon_client, carol_client):
        page = _page(client, grinder_tag)
        assert "alice@example.org" not in page
        assert "alice" not in page.lower()


def test_profile_email_switched_on_shows_the_contact_email_not_the_login_email(anon_client, alice, grinder_tag):
    owner_update_contact(owner=alice, contact_email="desk@example.net", show_email=True)
    page = _page(anon_client, grinder_tag)
    assert "desk@example.net" in page
    assert "alice@example.org" not in page


def test_lost_banner_shows_the_reward(anon_client, grinder, grinder_tag):
    assert 'data-testid="lost-banner"' not in _page(anon_client, grinder_tag)
    twin_set_lost(twin=grinder, lost=True, reward="A box of biscuits")
    page = _page(anon_client, grinder_tag)
    assert 'data-testid="lost-banner"' in page and "A box of biscuits" in page


def test_public_page_offers_a_message_form_the_same_for_every_finder(anon_client, grinder_tag):
    # No per-visitor CSRF token: the form is protected by its Origin / Sec-Fetch-Site (tests/tags/test_scan_origin.py).
    page = _page(anon_client, grinder_tag)
    assert reverse("tag-message", args=[grinder_tag.token]) in page
    assert 'name="message"' in page and "csrfmiddlewaretoken" not in page
    response = anon_client.get(grinder_tag.get_absolute_url())
    assert response.content.decode() == page and not response.cookies


def test_public_page_is_not_cached(anon_client, grinder_tag):
    response = anon_client.get(grinder_tag.get_absolute_url())
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_stranger_scan_costs_a_handful_of_queries(anon_client, grinder_tag, django_assert_max_num_queries):
    anon_client.get(grinder_tag.get_absolute_url())
    # Tag with twin and owner; scan insert; the coalesced notification bump (savepoints aside).
    with django_assert_max_num_queries(6):
        anon_client.get(grinder_tag.get_absolute_url())


def test_saving_a_thing_while_redis_is_down_still_saves(settings, alice_client, grinder, grinder_tag):
    """The finder's page cache is dropped on every save of the thing; with Redis unreachable that must not turn the
    owner's save into a 500."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = alice_client.post(f"/things/{grinder.slug}/lost/", {"lost": "on", "lost_reward": "Coffee"})
    assert response.status_code == 302
    grinder.refresh_from_db()
    assert grinder.lost
