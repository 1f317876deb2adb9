import re

import pytest
from django.core import mail
from django.urls import reverse

from owners.models import Owner
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_creates_owner_and_signs_in(client):
    response = client.post(
        reverse("signup"),
        {"username": "dora", "email": "dora@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    owner = Owner.objects.get(username="dora")
    assert owner.check_password(PASSWORD)
    assert client.get(reverse("things")).status_code == 200


def test_signup_with_weak_password_is_refused_and_creates_nothing(client):
    response = client.post(
        reverse("signup"),
        {"username": "dora", "email": "dora@example.org", "password1": "123", "password2": "123"},
    )
    assert response.status_code == 400
    assert b"too short" in response.content
    assert not Owner.objects.filter(username="dora").exists()


def test_signup_with_taken_email_is_refused(client, alice):
    response = client.post(
        reverse("signup"),
        {"username": "dora", "email": "ALICE@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 400
    assert b"An account with this email exists" in response.content


def test_login_rotates_session_key_and_logout_invalidates_it(client, alice):
    client.get(reverse("login"))
    before = client.cookies.get("sessionid")
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    session_key = client.cookies["sessionid"].value
    assert before is None or before.value != session_key
    client.post(reverse("logout"))
    stale = client.__class__()
    stale.cookies["sessionid"] = session_key
    response = stale.get(reverse("things"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_wrong_password_does_not_sign_in(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content
    assert client.get(reverse("things")).status_code == 302


def test_login_attempts_are_rate_limited(client, alice, settings):
    settings.RATE_LOGIN_PER_CLIENT = "3/300"
    for _ in range(3):
        client.post(reverse("login"), {"username": "alice", "password": "nope"})
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_password_reset_emails_a_working_link(client, alice):
    response = client.post(reverse("password_reset"), {"email": "alice@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    assert response.status_code == 200
    new_password = "another long passphrase 42"
    response = client.post(
        response.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(new_password)


def test_password_reset_for_unknown_email_says_the_same_and_sends_nothing(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert mail.outbox == []
