import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from twins import services
from twins.models import JournalNote, Reading, Twin

pytestmark = pytest.mark.django_db


def _png(width=40, height=30, *, exif_gps=False) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), (200, 40, 40))
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "SecretCam"  # Make
        image.save(out, format="JPEG", exif=exif.tobytes())
    else:
        image.save(out, format="PNG")
    return out.getvalue()


def test_create_thing_with_attributes_opens_its_private_page(alice_client, alice):
    response = alice_client.post(
        reverse("thing-new"),
        {
            "name": "Door lock",
            "icon": "lock",
            "model_name": "Nuki 4",
            "serial": "NK-1",
            "reading_kind": "battery",
            "reading_unit": "%",
            "attributes": "colour: black\nfitted: 2025-03-01",
        },
    )
    twin = Twin.objects.get(owner=alice, name="Door lock")
    assert response.status_code == 302 and response.url == reverse("thing", args=[twin.slug])
    assert twin.attributes == {"colour": "black", "fitted": "2025-03-01"}
    page = alice_client.get(response.url).content.decode()
    assert "Nuki 4" in page and "fitted" in page


def test_rename_thing(alice_client, grinder):
    response = alice_client.post(
        reverse("thing-edit", args=[grinder.slug]),
        {"name": "Kitchen grinder", "icon": "coffee", "reading_kind": "grind", "reading_unit": "setting"},
    )
    assert response.status_code == 302
    grinder.refresh_from_db()
    assert grinder.name == "Kitchen grinder"


def test_attribute_line_without_colon_is_a_clear_error(alice_client, grinder):
    response = alice_client.post(
        reverse("thing-edit", args=[grinder.slug]),
        {"name": "X", "icon": "coffee", "reading_kind": "grind", "attributes": "just words"},
    )
    assert response.status_code == 400
    assert b"Line 1 needs a colon" in response.content
    grinder.refresh_from_db()
    assert grinder.name == "Coffee grinder"


def test_photo_upload_is_reencoded_without_metadata_and_served_privately(alice_client, carol_client, grinder):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("p.jpg", _png(exif_gps=True), content_type="image/jpeg")
    response = alice_client.post(reverse("thing-photo-upload", args=[grinder.slug]), {"photo": upload})
    assert response.status_code == 302
    grinder.refresh_from_db()
    served = b"".join(alice_client.get(reverse("thing-photo", args=[grinder.slug])).streaming_content)
    assert served[:3] == b"\xff\xd8\xff"
    assert b"SecretCam" not in served
    assert carol_client.get(reverse("thing-photo", args=[grinder.slug])).status_code == 404


def test_non_image_photo_is_refused_and_keeps_the_old_one(alice_client, grinder):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = alice_client.post(
        reverse("thing-photo-upload", args=[grinder.slug]),
        {"photo": SimpleUploadedFile("evil.png", b"<?php echo 1; ?>", content_type="image/png")},
    )
    assert response.status_code == 400
    assert b"not a photo we can read" in response.content
    grinder.refresh_from_db()
    assert not grinder.photo


def test_reading_from_the_private_page_becomes_the_latest(alice_client, grinder):
    response = alice_client.post(reverse("reading-new", args=[grinder.slug]), {"value": "12,5"})
    assert response.status_code == 302
    grinder.refresh_from_db()
    assert grinder.latest_value == 12.5
    assert "12.5 setting" in alice_client.get(reverse("thing", args=[grinder.slug])).content.decode()


@pytest.mark.parametrize("value", ["", "abc", "nan", "inf", "1e999", "12" * 30])
def test_bad_reading_value_is_a_clear_400_and_stores_nothing(alice_client, grinder, value):
    response = alice_client.post(reverse("reading-new", args=[grinder.slug]), {"value": value})
    assert response.status_code == 400
    assert Reading.objects.count() == 0


def test_older_reading_arriving_late_does_not_overwrite_latest(grinder):
    now = timezone.now()
    services.reading_add(twin=grinder, value=20, time=now)
    services.reading_add(twin=grinder, value=10, time=now - timedelta(hours=1))
    grinder.refresh_from_db()
    assert grinder.latest_value == 20
    assert grinder.readings.count() == 2


def test_reading_in_the_future_is_refused(grinder):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.reading_add(twin=grinder, value=1, time=timezone.now() + timedelta(hours=1))
    assert grinder.readings.count() == 0


def test_private_page_shows_chart_data_served_by_the_app(alice_client, grinder):
    services.reading_add(twin=grinder, value=14)
    page = alice_client.get(reverse("thing", args=[grinder.slug])).content.decode()
    assert 'id="chart-data"' in page
    assert "/static/js/chart.js" in page
    # Every script and stylesheet from this site (a substring test for "cdn" matched a random CSRF token once).
    assets = re.findall(r"""<(?:script|link)[^>]*\b(?:src|href)=["']([^"']+)["']""", page)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets), assets
    assert alice_client.get("/static/js/chart.js").status_code == 200


def test_journal_note_add_edit_delete(alice_client, grinder):
    response = alice_client.post(
        reverse("note-new", args=[grinder.slug]), {"title": "Descaled", "text": "With citric acid"}
    )
    assert response.status_code == 302
    note = JournalNote.objects.get(twin=grinder)
    assert "Descaled" in alice_client.get(reverse("thing", args=[grinder.slug])).content.decode()
    response = alice_client.post(
        reverse("note-edit", args=[grinder.slug, note.pk]), {"title": "Descaled again", "text": "", "time": ""}
    )
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.title == "Descaled again"
    alice_client.post(reverse("note-delete", args=[grinder.slug, note.pk]))
    assert not JournalNote.objects.filter(pk=note.pk).exists()


def test_note_of_another_thing_is_404_under_this_thing(alice_client, alice, grinder):
    other = services.twin_create(owner=alice, name="Kettle")
    note = services.note_create(twin=other, title="x")
    assert alice_client.get(reverse("note-edit", args=[grinder.slug, note.pk])).status_code == 404


def test_oversize_note_is_refused(alice_client, grinder):
    response = alice_client.post(reverse("note-new", args=[grinder.slug]), {"title": "t" * 201})
    assert response.status_code == 400
    assert JournalNote.objects.count() == 0


def test_lost_mode_with_reward(alice_client, grinder):
    alice_client.post(reverse("thing-lost", args=[grinder.slug]), {"lost": "on", "lost_reward": "A bag of beans"})
    grinder.refresh_from_db()
    assert grinder.lost and grinder.lost_reward == "A bag of beans" and grinder.lost_since is not None
    alice_client.post(reverse("thing-lost", args=[grinder.slug]), {"lost_reward": ""})
    grinder.refresh_from_db()
    assert not grinder.lost and grinder.lost_since is None


def test_public_settings_override_the_profile_card(alice_client, alice, grinder):
    alice.contact_name, alice.show_name = "Alice", True
    alice.save()
    assert grinder.contact_card().public_contact() == {"name": "Alice"}
    alice_client.post(
        reverse("thing-public", args=[grinder.slug]),
        {"show_thing_name": "on", "contact_phone": "+49 30 1234", "show_phone": "on"},
    )
    grinder.refresh_from_db()
    assert not grinder.use_profile_contact
    assert grinder.contact_card().public_contact() == {"phone": "+49 30 1234"}
