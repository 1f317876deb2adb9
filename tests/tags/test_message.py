import pytest
from django.urls import reverse

from owners.models import Notification
from owners.services import owner_update_contact

pytestmark = pytest.mark.django_db

MESSAGE = {"message": "Found your grinder on the 14 bus.", "name": "Dana", "contact": "dana@example.com"}


def _send(client, tag, data=None, **extra):
    return client.post(reverse("tag-message", args=[tag.token]), data or MESSAGE, **extra)


def test_finder_message_lands_in_the_inbox_and_in_the_owners_mail(
    anon_client, alice, grinder_tag, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _send(anon_client, grinder_tag)
    assert response.status_code == 200
    item = Notification.objects.get(owner=alice, kind=Notification.Kind.MESSAGE)
    assert item.title == "Message about Coffee grinder"
    assert item.body == MESSAGE["message"]
    assert item.sender_name == "Dana" and item.sender_contact == "dana@example.com"
    assert item.twin == grinder_tag.twin
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.org"]
    assert MESSAGE["message"] in mailoutbox[0].body


def test_the_finders_response_never_contains_the_owners_address(anon_client, alice, grinder_tag):
    owner_update_contact(owner=alice, contact_email="private@example.net", show_email=False)
    page = _send(anon_client, grinder_tag).content.decode()
    assert "Your message was sent" in page
    assert "alice@example.org" not in page
    assert "private@example.net" not in page
    assert "alice" not in page.lower()


def test_message_with_only_the_message_is_fine(anon_client, alice, grinder_tag):
    assert _send(anon_client, grinder_tag, {"message": "It's at reception."}).status_code == 200
    item = Notification.objects.get(owner=alice, kind="message")
    assert item.sender_name == "" and item.sender_contact == ""


def test_phone_number_is_a_valid_contact(anon_client, alice, grinder_tag):
    response = _send(anon_client, grinder_tag, {"message": "Call me", "contact": "+44 (0)20 7946-0958"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        {"message": "x" * 2001},
        {"message": ""},
        {"message": "   "},
        {"message": "hi", "contact": "not a contact"},
        {"message": "hi", "contact": "a@" + "b" * 260 + ".com"},
        {"message": "hi", "name": "n" * 101},
    ],
)
def test_invalid_message_is_a_400_with_the_form_and_nothing_is_stored(
    anon_client, alice, grinder_tag, mailoutbox, django_capture_on_commit_callbacks, data
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _send(anon_client, grinder_tag, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="errorlist"' in page and 'name="message"' in page
    assert not Notification.objects.filter(kind="message").exists()
    assert mailoutbox == []


def test_messages_are_rate_limited_per_client(settings, anon_client, alice, grinder_tag):
    settings.RATE_MESSAGE_PER_CLIENT = "2/600"
    assert _send(anon_client, grinder_tag).status_code == 200
    assert _send(anon_client, grinder_tag).status_code == 200
    response = _send(anon_client, grinder_tag)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Slow down" in response.content.decode()
    assert Notification.objects.filter(kind="message").count() == 2


def test_messages_are_rate_limited_per_tag_across_clients(settings, anon_client, alice, grinder_tag):
    settings.RATE_MESSAGE_PER_TAG = "3/3600"
    for number in range(3):
        assert _send(anon_client, grinder_tag, REMOTE_ADDR=f"203.0.113.{number}").status_code == 200
    response = _send(anon_client, grinder_tag, REMOTE_ADDR="203.0.113.99")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Notification.objects.filter(kind="message").count() == 3


def test_message_needs_post_and_csrf(alice, grinder_tag):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert client.get(reverse("tag-message", args=[grinder_tag.token])).status_code == 405
    assert _send(client, grinder_tag).status_code == 403
    assert not Notification.objects.filter(kind="message").exists()


def test_message_to_an_unknown_tag_is_a_404(anon_client):
    response = anon_client.post("/t/" + "A" * 43 + "/message", MESSAGE)
    assert response.status_code == 404


def test_invalid_message_keeps_what_the_finder_typed(anon_client, grinder_tag):
    response = _send(anon_client, grinder_tag, {"message": "It is at the desk", "contact": "nope"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "It is at the desk" in page and 'value="nope"' in page
    assert "Enter an email address or a phone number." in page
