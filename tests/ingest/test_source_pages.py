"""Owner pages for sources: secret shown once, mapping preview, thing links, rotation, deletion, access."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.test import Client

from ingest import devices
from ingest import services as ingest_services
from ingest.models import Source, SourceThing
from ssi import vault
from ssi.keys import SigningKey
from tests.conftest import client_for
from tests.ingest.conftest import Sender
from tests.ingest.test_devices import signed
from twins import services as twin_services


def secret_in(html: str) -> str:
    match = re.search(r'data-testid="secret" readonly value="(whsec_[A-Za-z0-9+/=]+)"', html)
    assert match, "no secret on the page"
    return match.group(1)


def test_creating_a_source_shows_its_secret_once_and_never_again(alice_client, alice, caplog):
    with caplog.at_level(logging.DEBUG):
        response = alice_client.post("/sources/new/", {"name": "Garden gateway"})
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        secret = secret_in(response.content.decode())
        source = Source.objects.get(owner=alice)
        assert source.secrets() == [secret]
        # Sealed at rest: the stored bytes do not contain it.
        assert secret.encode() not in bytes(source.secret_sealed)
        for url in ("/sources/", f"/sources/{source.public_id}/", f"/sources/{source.public_id}/delete/"):
            page = alice_client.get(url).content.decode()
            assert secret not in page and secret.removeprefix("whsec_") not in page, url
    assert secret.removeprefix("whsec_") not in caplog.text


def test_the_source_page_shows_the_hook_url(alice_client, source):
    page = alice_client.get(f"/sources/{source.public_id}/").content.decode()
    assert f"/hooks/{source.public_id}" in page


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_for_the_chosen_overlap(
    alice_client, source_and_secret
):
    source, old = source_and_secret
    response = alice_client.post(f"/sources/{source.public_id}/rotate/", {"overlap_hours": 6})
    assert response.status_code == 200
    new = secret_in(response.content.decode())
    assert new != old
    source.refresh_from_db()
    assert sorted(source.secrets()) == sorted([new, old])
    assert 5.9 * 3600 < (source.previous_valid_until - source.updated_at).total_seconds() <= 6 * 3600
    page = alice_client.get(f"/sources/{source.public_id}/").content.decode()
    assert new not in page and old not in page
    assert 'data-testid="overlap"' in page

    alice_client.post(f"/sources/{source.public_id}/end-overlap/")
    source.refresh_from_db()
    assert source.secrets() == [new]


def test_an_overlap_longer_than_30_days_is_refused(alice_client, source_and_secret):
    source, old = source_and_secret
    response = alice_client.post(f"/sources/{source.public_id}/rotate/", {"overlap_hours": 24 * 31})
    assert response.status_code == 400
    source.refresh_from_db()
    assert source.secrets() == [old]


def test_preview_shows_the_readings_a_sample_would_give_without_saving(alice_client, source, grinder):
    sample = '{"data": [{"id": "acme-grinder-7", "v": 12.5}, {"id": "acme-grinder-7", "v": 13}]}'
    form = {
        "name": "Acme cloud",
        "rate_limit": "600/60",
        "readings": "/data",
        "thing": "/id",
        "value": "/v",
        "sample": sample,
        "action": "preview",
    }
    response = alice_client.post(f"/sources/{source.public_id}/", form)
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 readings" in html and "12.5 setting" in html and "Coffee grinder" in html
    source.refresh_from_db()
    assert source.mapping == {}, "a preview saves nothing"


def test_preview_names_the_json_pointer_of_the_bad_field(alice_client, source):
    form = {
        "name": "Acme cloud",
        "rate_limit": "600/60",
        "sample": '{"readings": [{"value": 1}, {"value": "hot"}]}',
        "action": "preview",
    }
    html = alice_client.post(f"/sources/{source.public_id}/", form).content.decode()
    assert '<code data-testid="pointer">/readings/1/value</code>' in html


def test_saving_a_mapping_keeps_only_the_changed_pointers(alice_client, source):
    form = {"name": "Renamed", "rate_limit": "100/60", "value": "/v", "action": "save"}
    response = alice_client.post(f"/sources/{source.public_id}/", form)
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.name, source.rate_limit, source.mapping) == ("Renamed", "100/60", {"value": "/v"})


@pytest.mark.parametrize(("field", "value"), [("value", "no-slash"), ("thing", "/a~2b"), ("rate_limit", "fast")])
def test_an_invalid_pointer_or_rate_limit_is_refused(alice_client, source, field, value):
    form = {"name": "Acme cloud", "rate_limit": "600/60", "action": "save", field: value}
    response = alice_client.post(f"/sources/{source.public_id}/", form)
    assert response.status_code == 400
    source.refresh_from_db()
    assert source.mapping == {} and source.rate_limit != value


def test_things_are_linked_with_external_ids_and_unlinked(alice_client, alice, source, grinder):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    response = alice_client.post(f"/sources/{source.public_id}/things/", {"twin": kettle.slug, "external_id": "k-1"})
    assert response.status_code == 302
    assert SourceThing.objects.filter(source=source, twin=kettle, external_id="k-1").exists()
    duplicate = alice_client.post(f"/sources/{source.public_id}/things/", {"twin": grinder.slug})
    assert duplicate.status_code == 400
    link = SourceThing.objects.get(source=source, twin=kettle)
    alice_client.post(f"/sources/{source.public_id}/things/{link.pk}/delete/")
    assert not SourceThing.objects.filter(pk=link.pk).exists()


def test_a_thing_of_someone_else_cannot_be_linked(alice_client, carol, source):
    carols = twin_services.twin_create(owner=carol, name="Carol's scale")
    response = alice_client.post(f"/sources/{source.public_id}/things/", {"twin": carols.slug})
    assert response.status_code == 400
    assert not SourceThing.objects.filter(twin=carols).exists()


def test_deleting_a_source_stops_its_url(alice_client, source):
    response = alice_client.post(f"/sources/{source.public_id}/delete/")
    assert response.status_code == 302
    assert not Source.objects.filter(pk=source.pk).exists()


def source_urls(source: Source) -> list[tuple[str, str]]:
    link = SourceThing.objects.filter(source=source).first()
    base = f"/sources/{source.public_id}/"
    return [
        ("get", base),
        ("post", base),
        ("post", base + "things/"),
        ("post", base + f"things/{link.pk}/delete/"),
        ("post", base + "rotate/"),
        ("post", base + "end-overlap/"),
        ("get", base + "delete/"),
        ("post", base + "delete/"),
    ]


def test_a_stranger_gets_the_one_404_on_every_source_page_and_changes_nothing(source, carol):
    client = client_for(carol)
    not_found = client.get("/no-such-page/").content
    before = (list(Source.objects.values()), list(SourceThing.objects.values()))
    for method, url in source_urls(source):
        response = getattr(client, method)(url, {"overlap_hours": 1, "name": "x", "rate_limit": "1/1"})
        assert response.status_code == 404, (method, url)
        assert response.content == not_found, (method, url)
    assert (list(Source.objects.values()), list(SourceThing.objects.values())) == before


def test_anonymous_visitors_are_sent_to_log_in_on_every_source_page(source):
    client = Client()
    for method, url in [("get", "/sources/"), ("get", "/sources/new/"), *source_urls(source)]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith("/login/?next="), (method, url)


def test_the_sources_list_shows_only_the_viewers_sources(source, carol):
    html = client_for(carol).get("/sources/").content.decode()
    assert source.name not in html and source.public_id not in html


def test_source_ids_are_unguessable(alice):
    ids = [ingest_services.source_create(owner=alice, name=f"S{n}")[0].public_id for n in range(50)]
    assert len(set(ids)) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", public_id) for public_id in ids)


def test_a_secret_sealed_under_another_key_does_not_open(source, settings):
    settings.KEY_ENCRYPTION_KEY = vault.new_kek()
    with pytest.raises(vault.VaultError):
        source.secrets()


def test_the_mapping_form_sets_where_the_device_signature_and_key_are(alice_client, source, grinder):
    page = alice_client.get(f"/sources/{source.public_id}/").content.decode()
    assert 'name="signature"' in page and 'name="key"' in page
    form = {
        "name": "Acme cloud",
        "rate_limit": "600/60",
        "signature": "/sig/value",
        "key": "/sig/key",
        "action": "save",
    }
    assert alice_client.post(f"/sources/{source.public_id}/", form).status_code == 302
    source.refresh_from_db()
    assert source.mapping == {"signature": "/sig/value", "key": "/sig/key"}

    device = SigningKey.generate()
    devices.device_key_add(twin=grinder, public_key=device.multibase)
    plain = signed({"value": 4.5}, device)
    reading = {"value": 4.5, "time": plain["time"], "sig": {"value": plain["signature"], "key": device.multibase}}
    _, secret = ingest_services.source_rotate_secret(source=source, overlap=timedelta(0))
    response = Sender(client=Client(), source=source, secret=secret).post(reading)
    assert response.status_code == 200
    stored = grinder.readings.get()
    assert stored.device_signed and stored.device_key == device.multibase
