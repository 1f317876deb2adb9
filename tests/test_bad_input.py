"""Bad input everywhere gets a clear 4xx and writes nothing: HTML forms, the API, uploads, body size, CSRF."""

from __future__ import annotations

import io
import struct
import zlib
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from didcomm import services as didcomm_services
from didcomm.models import Connection, OutboundMessage
from owners.models import Notification, Owner
from tags.models import Tag
from tests.conftest import client_for
from tests.test_access_matrix import ALL_ROUTES, World, url_for

# The matrix's fixtures, used here by name: its world (built once a module, each test in a savepoint) and its
# alice, the world's owner (conftest's alice would be a second account of that name).
from tests.test_access_matrix import alice as alice
from tests.test_access_matrix import matrix_world as matrix_world
from tests.test_access_matrix import world as world
from twins import services as twin_services
from twins.models import JournalNote, Reading, Twin

MODELS = (Owner, Twin, Reading, JournalNote, Tag, Notification, Connection, OutboundMessage)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@contextmanager
def nothing_written():
    before = counts()
    yield
    assert counts() == before, "a refused request wrote rows"


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000, *, rows: int = 4) -> bytes:
    """A small PNG claiming width x height 1-bit pixels, with `rows` rows of real (zero) image data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    data = zlib.compress((b"\x00" + b"\x00" * ((width + 7) // 8)) * rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def text_of(response) -> str:
    return response.content.decode()


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    client.force_login(alice)
    return client


# --- HTML forms ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"name": "n" * 121, "icon": "thing", "reading_kind": "r"}, "at most 120 characters"),
        ({"name": "", "icon": "thing", "reading_kind": "r"}, "This field is required"),
        ({"name": "Bike", "icon": "rocket", "reading_kind": "r"}, "Select a valid choice"),
        ({"name": "Bike", "icon": "thing", "reading_kind": "r", "description": "d" * 2001}, "at most 2000"),
        ({"name": "Bike", "icon": "thing", "reading_kind": "r", "attributes": "no colon here"}, "needs a colon"),
    ],
)
def test_new_thing_form_refuses_bad_input_and_writes_nothing(alice_client, data, says):
    with nothing_written():
        response = alice_client.post("/things/new/", data)
    assert response.status_code == 400
    assert says in text_of(response)


@pytest.mark.parametrize(
    ("attributes", "says"),
    [("k: " + "v" * 501, "longer than 500"), ("\n".join(f"k{n}: v" for n in range(51)), "At most 50 attributes")],
)
def test_new_thing_form_refuses_bad_attributes_with_a_400_not_a_500(alice_client, attributes, says):
    # validate_attributes raises ValidationError({"attributes": ...}) inside AttributesField.to_python;
    # the form must show it as the field's error.
    with nothing_written():
        response = alice_client.post(
            "/things/new/", {"name": "Bike", "icon": "thing", "reading_kind": "r", "attributes": attributes}
        )
    assert response.status_code == 400
    assert says in text_of(response)


def test_edit_form_refuses_oversize_text_and_leaves_the_thing_as_it_was(alice_client, grinder):
    response = alice_client.post(
        f"/things/{grinder.slug}/edit/",
        {"name": "Renamed", "icon": "coffee", "reading_kind": "grind", "serial": "s" * 121},
    )
    assert response.status_code == 400
    assert "at most 120 characters" in text_of(response)
    grinder.refresh_from_db()
    assert (grinder.name, grinder.serial) == ("Coffee grinder", "")


def test_public_settings_form_refuses_a_bad_email(alice_client, grinder):
    response = alice_client.post(f"/things/{grinder.slug}/public/", {"contact_email": "not-an-email"})
    assert response.status_code == 400
    assert "valid email" in text_of(response)
    grinder.refresh_from_db()
    assert grinder.contact_email == ""


def test_lost_form_refuses_an_oversize_reward(alice_client, grinder):
    response = alice_client.post(f"/things/{grinder.slug}/lost/", {"lost": "on", "lost_reward": "r" * 201})
    assert response.status_code == 400
    assert "at most 200 characters" in text_of(response)
    grinder.refresh_from_db()
    assert grinder.lost is False


@pytest.mark.parametrize("value", ["abc", "", "nan", "1e999", "9007199254740993", "-1e16"])
def test_reading_form_refuses_what_is_not_a_number(alice_client, grinder, value):
    with nothing_written():
        response = alice_client.post(f"/things/{grinder.slug}/readings/new/", {"value": value})
    assert response.status_code == 400
    assert "number" in text_of(response) or "required" in text_of(response)


@pytest.mark.parametrize(
    ("data", "says"),
    [({"title": "t" * 201}, "at most 200 characters"), ({"title": "ok", "text": "x" * 10001}, "at most 10000")],
)
def test_journal_form_refuses_oversize_text(alice_client, grinder, data, says):
    with nothing_written():
        response = alice_client.post(f"/things/{grinder.slug}/journal/new/", data)
    assert response.status_code == 400
    assert says in text_of(response)


def test_journal_edit_refuses_oversize_title_and_keeps_the_note(alice_client, grinder):
    note = twin_services.note_create(twin=grinder, title="Descaled")
    response = alice_client.post(f"/things/{grinder.slug}/journal/{note.pk}/edit/", {"title": "t" * 201})
    assert response.status_code == 400
    note.refresh_from_db()
    assert note.title == "Descaled"


def test_profile_form_refuses_an_oversize_contact_name(alice_client, alice):
    response = alice_client.post("/profile/", {"contact_name": "n" * 101})
    assert response.status_code == 400
    assert "at most 100 characters" in text_of(response)
    alice.refresh_from_db()
    assert alice.contact_name == ""


def test_finder_message_form_refuses_an_oversize_message(grinder_tag):
    with nothing_written():
        response = Client().post(f"/t/{grinder_tag.token}/message", {"message": "m" * 2001})
    assert response.status_code == 400
    assert "at most 2000 characters" in text_of(response)


@pytest.mark.parametrize(
    "url",
    [
        "/things/NoSuchThing0000000000000/",
        "/things/NoSuchThing0000000000000/edit/",
        "/inbox/999999/",
        "/t/NoSuchTokenNoSuchTokenNoSuchTok",
    ],
)
def test_unknown_ids_are_404_pages(alice_client, url):
    assert alice_client.get(url).status_code == 404


def test_unknown_note_and_tag_ids_under_a_real_thing_are_404(alice_client, grinder):
    assert alice_client.get(f"/things/{grinder.slug}/journal/999999/edit/").status_code == 404
    with nothing_written():
        assert alice_client.post(f"/things/{grinder.slug}/tags/999999/retire/").status_code == 404


@pytest.mark.parametrize("base", ["/things/{slug}/connections/", "/profile/connections/"])
@pytest.mark.parametrize(
    ("action", "data", "says"),
    [
        ("accept/", {"invitation_url": ""}, "This field is required"),
        ("accept/", {"invitation_url": "https://example.org/"}, "not an invitation"),
        ("accept/", {"invitation_url": "x" * 8001}, "at most 8000 characters"),
        ("{connection}/message/", {"content": ""}, "This field is required"),
        ("{connection}/message/", {"content": "m" * 2001}, "at most 2000 characters"),
    ],
)
def test_connection_forms_refuse_bad_input_and_write_nothing(alice, alice_client, grinder, base, action, data, says):
    agent = didcomm_services.agent_for_twin(grinder) if "{slug}" in base else didcomm_services.agent_for_owner(alice)
    connection = Connection.objects.create(
        agent=agent, state=Connection.State.COMPLETED, their_verkey="A" * 44, my_verkey=""
    )
    url = (base + action).format(slug=grinder.slug, connection=connection.pk)
    with nothing_written():
        response = alice_client.post(url, data)
    assert response.status_code == 400
    assert says in text_of(response)


@pytest.mark.parametrize("base", ["/things/{slug}/connections/", "/profile/connections/"])
def test_unknown_connection_ids_are_404(alice_client, grinder, base):
    base = base.format(slug=grinder.slug)
    assert alice_client.get(f"{base}999999/").status_code == 404
    with nothing_written():
        for action in ("message/", "ping/", "remove/"):
            assert alice_client.post(f"{base}999999/{action}", {"content": "hi"}).status_code == 404


# --- Photos (HTML form and API) -----------------------------------------------------------------------------


def _upload_html(client: Client, twin: Twin, content: bytes):
    return client.post(f"/things/{twin.slug}/photo/upload/", {"photo": SimpleUploadedFile("p.png", content)})


def _upload_api(client: APIClient, twin: Twin, content: bytes):
    return client.put(
        f"/api/things/{twin.slug}/photo", {"photo": SimpleUploadedFile("p.png", content)}, format="multipart"
    )


NOT_A_PHOTO = "That file is not a photo we can read. Use a JPEG, PNG, WebP or GIF image."


@pytest.mark.parametrize(("content", "says"), [(b"%PDF-1.4 not an image", NOT_A_PHOTO), (bomb_png(), NOT_A_PHOTO)])
def test_html_photo_upload_refuses_non_images_and_decompression_bombs(alice_client, grinder, content, says):
    response = _upload_html(alice_client, grinder, content)
    assert response.status_code == 400
    assert says in text_of(response)
    grinder.refresh_from_db()
    assert not grinder.photo


@pytest.mark.parametrize("content", [b"%PDF-1.4 not an image", bomb_png()])
def test_api_photo_upload_refuses_non_images_and_decompression_bombs(api, grinder, content):
    response = _upload_api(api, grinder, content)
    assert response.status_code == 400
    assert response.json()["message"] == f"photo: {NOT_A_PHOTO}"
    grinder.refresh_from_db()
    assert not grinder.photo


def test_a_complete_photo_with_more_pixels_than_photo_max_pixels_is_refused(api, alice_client, grinder, settings):
    # 9000 x 5000 = 45 M pixels in about 6 KB: above PHOTO_MAX_PIXELS (40 M) but below twice it, where Pillow
    # only warns (DecompressionBombWarning) instead of raising, so the limit has to be enforced explicitly.
    settings.PHOTO_MAX_PIXELS = 40_000_000
    content = bomb_png(9000, 5000, rows=5000)
    assert len(content) < 20_000
    assert _upload_api(api, grinder, content).status_code == 400
    assert _upload_html(alice_client, grinder, content).status_code == 400
    grinder.refresh_from_db()
    assert not grinder.photo


def test_a_photo_over_the_size_limit_is_refused_in_html_and_api(alice_client, api, grinder, settings):
    settings.PHOTO_MAX_BYTES = 1024 * 1024
    settings.REQUEST_MAX_BYTES = 4 * 1024 * 1024
    big = png_bytes() + b"\x00" * (1024 * 1024 + 1)
    html = _upload_html(alice_client, grinder, big)
    assert html.status_code == 400
    assert "The photo is too large: the limit is 1 MB." in text_of(html)
    response = _upload_api(api, grinder, big)
    assert response.status_code == 400
    assert response.json()["message"] == "photo: The photo is too large: the limit is 1 MB."
    grinder.refresh_from_db()
    assert not grinder.photo


def test_a_good_photo_replaces_nothing_when_the_next_one_is_bad(api, grinder):
    assert _upload_api(api, grinder, png_bytes()).status_code == 200
    grinder.refresh_from_db()
    first = grinder.photo.name
    assert _upload_api(api, grinder, b"junk").status_code == 400
    grinder.refresh_from_db()
    assert grinder.photo.name == first


# --- Request body size --------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_route", [False, True])
def test_a_body_above_request_max_bytes_is_a_413_before_any_view_reads_it(alice, grinder, settings, api_route):
    settings.REQUEST_MAX_BYTES = 2 * 1024 * 1024
    body = {"photo": SimpleUploadedFile("p.png", b"\x00" * (2 * 1024 * 1024 + 10))}
    with nothing_written():
        if api_route:
            client = APIClient()
            client.force_login(alice)
            response = client.put(f"/api/things/{grinder.slug}/photo", body, format="multipart")
        else:
            response = client_for(alice).post(f"/things/{grinder.slug}/photo/upload/", body)
    assert response.status_code == 413
    if api_route:
        assert response.json() == {"message": "The request is too large: the limit is 2 MB.", "extra": {}}
    else:
        assert "The request is too large: the limit is 2 MB." in text_of(response)


def test_a_lying_content_length_is_refused_too(alice_client, settings):
    settings.REQUEST_MAX_BYTES = 1024
    with nothing_written():
        response = alice_client.post("/things/new/", {"name": "x"}, CONTENT_LENGTH="999999999")
    assert response.status_code == 413


# --- API ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "n" * 121}, "name"),
        ({"name": 42}, "name"),
        ({"name": "Bike", "attributes": ["not", "an", "object"]}, "attributes"),
        ({"name": "Bike", "attributes": "colour: red"}, "attributes"),
        ({"name": "Bike", "attributes": {f"k{n}": "v" for n in range(51)}}, "attributes"),
        ({"name": "Bike", "attributes": {"k": {"nested": 1}}}, "attributes"),
        ({"name": "Bike", "attributes": {"k": "v" * 501}}, "attributes"),
        ({"name": "Bike", "description": "d" * 2001}, "description"),
        ({"name": "Bike", "icon": "rocket"}, "icon"),
        ({"name": "Bike", "owner": 1}, "owner"),
        ({"name": "Bike", "slug": "mine"}, "slug"),
    ],
)
def test_api_thing_create_refuses_bad_input_naming_the_field(api, payload, field):
    with nothing_written():
        response = api.post("/api/things/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert body["message"].startswith(f"{field}:"), body


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"lost": "perhaps"}, "lost"),
        ({"lost_reward": "r" * 201}, "lost_reward"),
        ({"contact_message": "m" * 1001}, "contact_message"),
        ({"show_email": "yes please"}, "show_email"),
        ({"name": None}, "name"),
        ({"latest_value": 3}, "latest_value"),
    ],
)
def test_api_thing_update_refuses_bad_input_and_changes_nothing(api, grinder, payload, field):
    response = api.patch(f"/api/things/{grinder.slug}/", {"name": "Renamed", **payload}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}:")
    grinder.refresh_from_db()
    assert grinder.name == "Coffee grinder"
    assert grinder.lost is False


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"value": "abc"}, "value"),
        ({"value": [1]}, "value"),
        ({"value": 1, "time": "2026-01-31T08:00:00"}, "time"),
        ({"value": 1, "unit": "u" * 21}, "unit"),
        ({"value": 1, "source": "tag"}, "source"),
    ],
)
def test_api_reading_refuses_bad_input_and_writes_nothing(api, grinder, payload, field):
    with nothing_written():
        response = api.post(f"/api/things/{grinder.slug}/readings/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"name": "Bike"', "JSON parse error"),
        (b'["Bike"]', "Invalid data. Expected a dictionary, but got list."),
        (b'{"name": NaN}', "JSON parse error"),
    ],
)
def test_api_refuses_malformed_json_with_a_readable_message(api, body, says):
    with nothing_written():
        response = api.post("/api/things/", body, content_type="application/json")
    assert response.status_code == 400
    assert says in response.json()["message"]


def test_api_refuses_an_unsupported_content_type(api):
    with nothing_written():
        response = api.post("/api/things/", b"name=Bike", content_type="text/plain")
    assert response.status_code == 415
    assert "text/plain" in response.json()["message"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/things/NoSuchThing0000000000000/",
        "/api/things/NoSuchThing0000000000000/readings/",
        "/api/things/{slug}/journal/999999/",
        "/api/things/{slug}/tags/999999/retire",
        "/api/things/{slug}/journal/not-a-number/",
    ],
)
def test_api_unknown_ids_are_the_one_404(api, grinder, url):
    url = url.format(slug=grinder.slug)
    response = api.post(url) if url.endswith("retire") else api.get(url)
    assert response.status_code == 404
    assert response.json() == {"message": "Not found.", "extra": {}}


# --- CSRF: every state-changing request of a signed-in owner needs the token --------------------------------


def _csrf_routes():
    for route in ALL_ROUTES:
        if route.route == "didcomm/" or route.route.startswith(("static/", "hooks/", "api/moves/")):
            # hooks: signed by the sender's secret (Standard Webhooks); didcomm/: an encrypted agent envelope;
            # api/moves/: instance to instance, a bearer token per move and no session authentication at all (a
            # signed-in browser's cookie gives it no authority; tests/moves/test_api.py). None carries a session.
            continue
        if route.route.startswith("admin/") and route.kwargs:
            continue  # admin model pages: covered by the admin's own login check in the access matrix
        yield route


@pytest.mark.parametrize("route", list(_csrf_routes()), ids=str)
def test_a_post_without_csrf_token_is_refused_on_every_route(route, world: World):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    url = url_for(route, world)
    with nothing_written():
        response = client.post(url, {"name": "x", "title": "x", "value": "1", "message": "hi"})
    assert response.status_code == 403, f"POST {url}: {response.status_code} without a CSRF token"
    # DRF names the CSRF failure (in whatever its view renders: JSON, the schema, the docs page);
    # Django's own refusal is the 403_csrf.html page.
    assert "CSRF" in text_of(response) or "reload the page" in text_of(response), text_of(response)[:300]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_api_writes_with_a_session_but_no_csrf_token_are_refused(world: World, method):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.alice)
    url = f"/api/things/{world.thing.slug}/journal/{world.note.pk}/"
    with nothing_written():
        response = getattr(client, method)(url, {"title": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_api_with_a_token_needs_no_csrf_token(world: World):
    from rest_framework.authtoken.models import Token

    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.alice).key}")
    response = client.post(f"/api/things/{world.thing.slug}/readings/", {"value": 3}, format="json")
    assert response.status_code == 201
