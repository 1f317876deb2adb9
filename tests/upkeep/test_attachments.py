"""Receipts and manuals: only PDF, JPEG, PNG and WebP by their bytes, capped in size, names sanitised, stored
outside any public URL and served only to the owner, as a download that no browser runs as a page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import api_for, client_for
from tests.upkeep.conftest import make_keeper, pdf_upload, png_bytes
from upkeep import attachments
from upkeep.demo import receipt_pdf
from upkeep.models import Attachment

pytestmark = pytest.mark.django_db


def test_owner_attaches_a_pdf_on_the_page_and_downloads_it_as_an_attachment(alice_client, grinder, settings):
    response = alice_client.post(
        f"/things/{grinder.slug}/attachments/", {"file": pdf_upload(), "kind": "receipt", "title": "Till slip"}
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get(twin=grinder)
    assert attachment.content_type == "application/pdf" and attachment.filename == "receipt.pdf"
    # Stored under a random name inside the private media folder, not under the owner's file name.
    assert attachment.file.name.startswith(f"upkeep/{grinder.pk}/") and "receipt" not in attachment.file.name
    page = alice_client.get(f"/things/{grinder.slug}/").content.decode()
    assert "Till slip" in page

    download = alice_client.get(f"/things/{grinder.slug}/attachments/{attachment.pk}/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == 'attachment; filename="receipt.pdf"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]
    assert b"".join(download.streaming_content) == receipt_pdf("A test receipt")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("receipt.pdf", b"<html><script>alert(1)</script></html>"),  # a page named like a PDF
        ("photo.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),  # a GIF: not one of the four
        ("manual.pdf", b"MZ\x90\x00\x03\x00\x00\x00"),  # a Windows program
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"not really a png"),  # the right first bytes, a broken image
    ],
)
def test_a_file_that_is_not_a_pdf_or_image_by_its_bytes_is_refused_with_words(alice_client, grinder, name, content):
    response = alice_client.post(f"/things/{grinder.slug}/attachments/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 400
    body = response.content.decode()
    assert "PDF, JPEG, PNG or WebP" in body or "damaged" in body
    assert not Attachment.objects.exists()


def test_a_file_over_the_cap_is_refused_and_nothing_is_kept(alice, grinder, settings):
    settings.UPKEEP_ATTACHMENT_MAX_BYTES = 1024
    big = SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * 2048)
    response = api_for(alice).post(f"/api/things/{grinder.slug}/attachments/", {"file": big}, format="multipart")
    assert response.status_code == 400
    assert "larger than" in response.json()["message"]
    assert not Attachment.objects.exists()
    assert not (settings.MEDIA_ROOT / "upkeep").exists() or not any((settings.MEDIA_ROOT / "upkeep").rglob("*.*"))


@pytest.mark.parametrize(
    ("given", "content_type", "expected"),
    [
        ("../../etc/passwd.pdf", "application/pdf", "passwd.pdf"),
        ("C:\\Users\\me\\Rechnung März.pdf", "application/pdf", "Rechnung März.pdf"),
        ('a"b;c\r\nd.png', "image/png", "a-b-c-d.png"),
        ("scan.exe", "image/jpeg", "scan.jpg"),
        (".htaccess", "image/png", "htaccess.png"),
        ("", "application/pdf", "file.pdf"),
        ("invoice\u202efdp.exe", "application/pdf", "invoice-fdp.pdf"),  # a right-to-left override
    ],
)
def test_file_names_are_sanitised_and_take_the_extension_of_what_the_file_is(given, content_type, expected):
    assert attachments.clean_filename(given, content_type) == expected


def test_api_uploads_lists_downloads_and_deletes_a_png(alice, grinder, settings, django_capture_on_commit_callbacks):
    api = api_for(alice)
    upload = SimpleUploadedFile("label.png", png_bytes())
    created = api.post(
        f"/api/things/{grinder.slug}/attachments/", {"file": upload, "kind": "manual"}, format="multipart"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["content_type"] == "image/png" and body["kind"] == "manual" and body["filename"] == "label.png"
    listed = api.get(f"/api/things/{grinder.slug}/attachments/").json()
    assert [item["id"] for item in listed] == [body["id"]]
    download = api.get(body["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert download["X-Content-Type-Options"] == "nosniff"
    stored = Attachment.objects.get(pk=body["id"]).file.path

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/things/{grinder.slug}/attachments/{body['id']}/").status_code == 204
    assert not Attachment.objects.exists()
    assert not __import__("os").path.exists(stored)


def test_the_schema_documents_the_attachment_operations(anon_client):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for operation in (
        "things_attachments_create",
        "things_attachments_list",
        "things_attachments_download",
        "things_purchase_update",
        "things_maintenance_done",
    ):
        assert operation in schema


def test_a_keeper_and_a_stranger_get_404_for_files(grinder, receipt, bob, carol):
    make_keeper(grinder, bob)
    for person in (bob, carol):
        client = client_for(person)
        assert client.get(f"/things/{grinder.slug}/attachments/{receipt.pk}/").status_code == 404
        assert client.post(f"/things/{grinder.slug}/attachments/{receipt.pk}/delete/").status_code == 404
        assert api_for(person).get(f"/api/things/{grinder.slug}/attachments/").status_code == 404
        assert api_for(person).get(f"/api/things/{grinder.slug}/attachments/{receipt.pk}/file").status_code == 404
    assert Attachment.objects.filter(pk=receipt.pk).exists()


def test_a_file_of_another_thing_is_a_404_under_this_things_url(alice_client, alice, grinder, receipt):
    from twins import services as twin_services

    other = twin_services.twin_create(owner=alice, name="Kettle")
    assert alice_client.get(f"/things/{other.slug}/attachments/{receipt.pk}/").status_code == 404


def test_the_page_deletes_a_file(alice_client, grinder, receipt, django_capture_on_commit_callbacks):
    path = receipt.file.path
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/things/{grinder.slug}/attachments/{receipt.pk}/delete/")
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    assert not __import__("os").path.exists(path)


def test_a_sale_removes_the_sellers_files(grinder, receipt, alice, bob, django_capture_on_commit_callbacks):
    from twins.transfer import offer_accept, offer_create

    path = receipt.file.path
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer, buyer=bob)
    assert not Attachment.objects.filter(twin=grinder).exists()
    assert not __import__("os").path.exists(path)


def test_no_static_or_media_url_serves_the_file(anon_client, alice_client, grinder, receipt):
    for url in (f"/media/{receipt.file.name}", f"/static/{receipt.file.name}", f"/{receipt.file.name}"):
        assert anon_client.get(url).status_code == 404
        assert alice_client.get(url).status_code == 404
