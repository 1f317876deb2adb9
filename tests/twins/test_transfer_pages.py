"""The transfer as people meet it (issue 14, findings 2-4): the seller's choices survive the re-login, a new buyer
finds the offer again after signing up, the offer page shows what a buyer judges by, and history is attributed
to whoever acted, as of when they acted."""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from core.qr import svg_text
from owners.recent_auth import SESSION_KEY
from tests.conftest import PASSWORD, client_for
from twins import services
from twins.models import TransferOffer
from twins.transfer import offer_create

pytestmark = pytest.mark.django_db


def _stale(client):
    session = client.session
    session[SESSION_KEY] = int(time.time()) - 3600
    session.save()
    return client


def _checked(page: str, value: str) -> bool:
    """Whether the offer form's checkbox for `value` is ticked in `page`."""
    start = page.index(f'value="{value}"')
    tag = page[page.rindex("<input", 0, start) : page.index(">", start)]
    return " checked" in tag


# --- finding 2: the seller's choices ------------------------------------------------------------------------


def test_offer_form_removes_scans_and_journal_unless_the_seller_keeps_them(grinder, alice):
    page = client_for(alice).get(reverse("thing-transfer", args=[grinder.slug])).content.decode()
    assert _checked(page, "note") and _checked(page, "scan")
    assert not _checked(page, "reading") and not _checked(page, "tag")


def test_seller_choices_survive_the_re_login_a_stale_session_needs(grinder, alice):
    url = reverse("thing-transfer", args=[grinder.slug])
    seller = _stale(client_for(alice))
    # Keep the journal (untick it), remove readings and tag changes, 3 days.
    response = seller.post(
        url, {"redact_kinds": ["reading", "tag"], "days": "3"}, HTTP_REFERER=f"http://testserver{url}"
    )
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not TransferOffer.objects.exists()
    login = seller.post(reverse("login"), {"username": "alice", "password": PASSWORD, "next": url})
    assert login.status_code == 302 and login.url == url
    page = seller.get(url).content.decode()
    assert _checked(page, "reading") and _checked(page, "tag")
    assert not _checked(page, "note") and not _checked(page, "scan")
    assert 'value="3"' in page
    assert "Your choices are kept" in page
    # Once: the next visit is the default form again.
    assert _checked(seller.get(url).content.decode(), "note")


def test_the_re_login_returns_to_the_page_with_its_query(grinder, alice):
    """A page made of its query (a handover of the things in `?thing=`) is the one the login sends back to."""
    url = reverse("thing-transfer", args=[grinder.slug])
    seller = _stale(client_for(alice))
    response = seller.post(
        url, {"redact_kinds": ["reading"], "days": "3"}, HTTP_REFERER=f"http://testserver{url}?from=cards&x=1"
    )
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.url).query)["next"] == [f"{url}?from=cards&x=1"]
    login = seller.post(reverse("login"), {"username": "alice", "password": PASSWORD, "next": f"{url}?from=cards&x=1"})
    assert login.url == f"{url}?from=cards&x=1"
    # The kept choices are still given back to that page.
    assert _checked(seller.get(f"{url}?from=cards&x=1").content.decode(), "reading")


def test_kept_choices_are_only_given_back_to_the_page_they_came_from(grinder, alice):
    url = reverse("thing-transfer", args=[grinder.slug])
    other = services.twin_create(owner=alice, name="Kettle")
    seller = _stale(client_for(alice))
    seller.post(url, {"redact_kinds": ["reading"], "days": "3"}, HTTP_REFERER=f"http://testserver{url}")
    seller.post(reverse("login"), {"username": "alice", "password": PASSWORD, "next": url})
    page = seller.get(reverse("thing-transfer", args=[other.slug])).content.decode()
    assert _checked(page, "note") and not _checked(page, "reading")


# --- finding 3: the new buyer ---------------------------------------------------------------------------------


@pytest.fixture
def offer(grinder, alice):
    grinder.model_name = "Mazzer Mini"
    grinder.serial = "MZ-2291"
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(buffer, format="JPEG")
    grinder.photo.save("photo.jpg", ContentFile(buffer.getvalue()), save=False)
    grinder.save()
    services.reading_add(twin=grinder, value=12)
    services.reading_add(twin=grinder, value=14.5)
    services.note_create(twin=grinder, title="Descaled")
    return offer_create(twin=grinder, seller=alice, redact_kinds=["note", "scan"])


def test_signed_out_offer_link_leads_to_a_login_that_names_the_offer(offer):
    anon = client_for(None)
    url = reverse("transfer-offer", args=[offer.token])
    response = anon.get(url, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert "alice" in page and "offers you" in page and "Coffee grinder" in page
    assert reverse("transfer-offer-photo", args=[offer.token]) in page
    signup = f"{reverse('signup')}?{urlencode({'next': url})}"
    assert f'href="{signup}"'.replace("&", "&amp;") in page or f'href="{signup}"' in page


def test_sign_up_from_an_offer_link_names_the_offer_and_lands_on_it(offer):
    anon = client_for(None)
    url = reverse("transfer-offer", args=[offer.token])
    page = anon.get(reverse("signup"), {"next": url}).content.decode()
    assert "offers you" in page and f'name="next" value="{url}"' in page
    response = anon.post(
        reverse("signup"),
        {"username": "dave", "email": "dave@example.org", "password1": PASSWORD, "password2": PASSWORD, "next": url},
    )
    assert response.status_code == 302 and response.url == url
    assert anon.get(url).status_code == 200


def test_sign_up_refuses_to_continue_to_another_site(db):
    anon = client_for(None)
    response = anon.post(
        reverse("signup"),
        {
            "username": "dave",
            "email": "dave@example.org",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response.status_code == 302 and response.url == reverse("thing-new")


def test_login_for_a_closed_offer_says_nothing_about_it(offer, alice):
    from twins.transfer import offer_cancel

    offer_cancel(offer=offer, seller=alice)
    url = reverse("transfer-offer", args=[offer.token])
    page = client_for(None).get(reverse("login"), {"next": url}).content.decode()
    assert "offers you" not in page
    assert client_for(None).get(reverse("transfer-offer-photo", args=[offer.token])).status_code == 404


def test_offer_photo_is_served_to_the_link_holder_while_the_offer_stands(offer):
    response = client_for(None).get(reverse("transfer-offer-photo", args=[offer.token]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


def test_offer_page_shows_what_a_buyer_judges_by(offer, bob):
    page = client_for(bob).get(reverse("transfer-offer", args=[offer.token])).content.decode()
    assert reverse("transfer-offer-photo", args=[offer.token]) in page
    assert "Mazzer Mini" in page and "MZ-2291" in page
    assert "Age" in page
    assert "2 grind readings" in page and "12–14.5" in page and "latest 14.5" in page
    assert "Journal note: 1" in page and "Scan: 0" in page
    assert "<strong>verifies</strong>" in page


# --- finding 1: the offer link carries SITE_URL ----------------------------------------------------------------


def test_offer_link_and_its_qr_carry_the_configured_site_url(settings, grinder, alice):
    settings.SITE_URL = "http://192.168.1.23:8200"
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    seller = client_for(alice)
    page = seller.get(reverse("thing-transfer", args=[grinder.slug])).content.decode()
    link = f"http://192.168.1.23:8200{reverse('transfer-offer', args=[offer.token])}"
    assert f'value="{link}"' in page
    svg = seller.get(reverse("thing-transfer-qr", args=[grinder.slug])).content.decode()
    assert svg == svg_text(link)
