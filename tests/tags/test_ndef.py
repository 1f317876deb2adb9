"""The .ndef download: the NDEF message an NFC writer writes onto any chip, one URI record with the tag's NFC URL."""

from __future__ import annotations

import ndef as ndeflib
import pytest
from django.urls import reverse

from tags import ndef
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_owner_downloads_the_tags_ndef_message(alice, grinder, grinder_tag):
    response = client_for(alice).get(reverse("tag-ndef", args=[grinder.slug, grinder_tag.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="thingstead-{grinder_tag.code}.ndef"'
    (record,) = ndeflib.message_decoder(response.content)  # an independent reading of the bytes
    assert isinstance(record, ndeflib.UriRecord) and record.iri == grinder_tag.nfc_url
    assert response.content[0] == 0xD1  # one short, well-known record (MB, ME, SR; TNF 1)
    page = client_for(alice).get(reverse("tag-show", args=[grinder.slug, grinder_tag.pk])).content.decode()
    assert reverse("tag-ndef", args=[grinder.slug, grinder_tag.pk]) in page


def test_a_stranger_gets_404(carol, grinder, grinder_tag):
    assert client_for(carol).get(reverse("tag-ndef", args=[grinder.slug, grinder_tag.pk])).status_code == 404


def test_the_uri_record_abbreviates_the_scheme_and_reads_back():
    message = ndef.uri_message("https://things.example.org/t/abc?nfc=1")
    assert message[4] == 0x04 and message[5:].startswith(b"things.example.org")
    assert ndef.message_uri(message) == "https://things.example.org/t/abc?nfc=1"


@pytest.mark.parametrize("data", [b"", b"\xd1\x01", b"\xd1\x01\x01T\x00"])
def test_a_message_that_is_not_one_uri_record_is_refused(data):
    with pytest.raises(ndef.NdefError):
        ndef.message_uri(data)


def test_a_url_too_long_for_the_chip_is_refused():
    with pytest.raises(ndef.NdefError, match="holds 254"):
        ndef.type4_file(ndef.uri_message("https://example.org/" + "a" * 300))
