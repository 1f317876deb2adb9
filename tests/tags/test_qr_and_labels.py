import pytest
import qrcode
from django.urls import reverse

from core import qr
from tags.models import Tag
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _urls(tag):
    slug = tag.twin.slug
    return {
        "png": reverse("tag-qr-png", args=[slug, tag.pk]),
        "svg": reverse("tag-qr-svg", args=[slug, tag.pk]),
        "labels": reverse("tag-labels", args=[slug]),
    }


def test_qr_png_download_is_a_png_named_after_the_code(alice_client, grinder_tag):
    response = alice_client.get(_urls(grinder_tag)["png"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert response["Content-Disposition"] == f'attachment; filename="thingstead-{grinder_tag.code}.png"'


def test_qr_svg_download_is_an_svg_named_after_the_code(alice_client, grinder_tag):
    response = alice_client.get(_urls(grinder_tag)["svg"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    body = response.content.decode()
    assert body.lstrip().startswith(("<?xml", "<svg")) and "<path" in body
    assert response["Content-Disposition"] == f'attachment; filename="thingstead-{grinder_tag.code}.svg"'


def test_qr_encodes_the_site_url_and_token(settings, grinder_tag):
    settings.SITE_URL = "https://things.example.org"
    assert grinder_tag.url == f"https://things.example.org/t/{grinder_tag.token}"
    # No QR decoder is installed: check the module matrix round trip with an independent encoding of the URL.
    reference = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    reference.add_data(grinder_tag.url)
    reference.make(fit=True)
    assert qr.matrix(grinder_tag.url) == reference.get_matrix()
    assert qr.matrix(grinder_tag.url) != qr.matrix(f"https://things.example.org/t/{grinder_tag.token}x")


def test_png_pixels_follow_the_matrix(grinder_tag):
    import io

    from PIL import Image

    matrix = qr.matrix(grinder_tag.url)
    image = Image.open(io.BytesIO(qr.png_bytes(grinder_tag.url, box_size=10))).convert("L")
    assert image.size == (len(matrix) * 10, len(matrix) * 10)
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            assert (image.getpixel((column * 10 + 5, row * 10 + 5)) < 128) == dark


def test_svg_inline_has_no_fixed_size_or_xml_declaration(grinder_tag):
    svg = qr.svg_inline(grinder_tag.url)
    assert svg.startswith("<svg") and "viewBox" in svg
    assert 'width="' not in svg.split(">", 1)[0]


def test_label_sheet_has_one_label_per_active_tag_with_qr_name_and_code(alice_client, grinder, grinder_tag):
    second = Tag.objects.create(twin=grinder)
    retired = Tag.objects.create(twin=grinder, status=Tag.Status.RETIRED)
    response = alice_client.get(_urls(grinder_tag)["labels"])
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="label"') == 2
    assert page.count("<svg") == 2
    assert grinder_tag.display_code in page and second.display_code in page
    assert retired.display_code not in page
    assert "Coffee grinder" in page
    assert "@media print" in page


def test_private_page_lists_tags_with_downloads_retire_add_and_print(alice_client, grinder, grinder_tag):
    page = alice_client.get(reverse("thing", args=[grinder.slug])).content.decode()
    urls = _urls(grinder_tag)
    assert grinder_tag.display_code in page
    assert urls["png"] in page and urls["svg"] in page and urls["labels"] in page
    assert f'<img src="{urls["svg"]}"' in page
    assert reverse("tag-retire", args=[grinder.slug, grinder_tag.pk]) in page
    assert reverse("tag-new", args=[grinder.slug]) in page


def test_owner_adds_a_tag_with_a_post(alice_client, grinder):
    response = alice_client.post(reverse("tag-new", args=[grinder.slug]), {"label": "lid"})
    assert response.status_code == 302
    tag = Tag.objects.get(twin=grinder)
    assert tag.status == Tag.Status.ACTIVE and tag.label == "lid"
    assert len(tag.token) == 43 and len(tag.code) == 8
    page = alice_client.get(response.url).content.decode()
    assert tag.display_code in page


def test_add_tag_page_has_a_form(alice_client, grinder):
    response = alice_client.get(reverse("tag-new", args=[grinder.slug]))
    assert response.status_code == 200 and 'name="label"' in response.content.decode()
    assert not Tag.objects.exists()


def test_archived_thing_gets_no_new_tags(alice_client, grinder):
    from twins.services import twin_set_archived

    twin_set_archived(twin=grinder, archived=True)
    response = alice_client.post(reverse("tag-new", args=[grinder.slug]))
    assert response.status_code == 400
    assert not Tag.objects.exists()


@pytest.mark.parametrize("name", ["png", "svg", "labels"])
def test_another_owner_gets_404_on_qr_and_labels(carol, grinder_tag, name):
    assert client_for(carol).get(_urls(grinder_tag)[name]).status_code == 404


def test_another_owner_gets_404_on_retire_and_new(carol, grinder, grinder_tag):
    client = client_for(carol)
    assert client.post(reverse("tag-retire", args=[grinder.slug, grinder_tag.pk])).status_code == 404
    assert client.post(reverse("tag-new", args=[grinder.slug])).status_code == 404
    assert client.get(reverse("tag-new", args=[grinder.slug])).status_code == 404
    assert Tag.objects.get().status == Tag.Status.ACTIVE


def test_tag_of_another_thing_is_a_404_under_this_things_url(alice, alice_client, grinder, grinder_tag):
    from twins.services import twin_create

    kettle = twin_create(owner=alice, name="Kettle")
    assert alice_client.get(reverse("tag-qr-png", args=[kettle.slug, grinder_tag.pk])).status_code == 404


@pytest.mark.parametrize("name", ["png", "svg", "labels"])
def test_signed_out_visitor_is_sent_to_log_in(anon_client, grinder_tag, name):
    response = anon_client.get(_urls(grinder_tag)[name])
    assert response.status_code == 302 and "/login/" in response.url


def test_add_a_tag_button_posts_nothing_and_still_adds_one(alice_client, grinder):
    assert alice_client.post(reverse("tag-new", args=[grinder.slug])).status_code == 302
    assert Tag.objects.filter(twin=grinder, label="").count() == 1
