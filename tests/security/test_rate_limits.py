"""Everywhere a stranger can make the server work or send mail is rate limited (429 with Retry-After)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _address(n: int) -> str:
    return f"10.{n // 250}.{n % 250}.1"


def _assert_refused(response, words: str) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert words in response.content.decode()


def test_failed_logins_for_one_account_are_limited_across_addresses(client, alice, settings):
    settings.RATE_LOGIN_FAILURES_PER_ACCOUNT = "10/900"
    statuses = [
        client.post(
            reverse("login"), {"username": "alice", "password": f"guess {n}"}, REMOTE_ADDR=_address(n)
        ).status_code
        for n in range(60)
    ]
    assert statuses[:10] == [200] * 10
    assert set(statuses[10:]) == {429}
    # Even the right password is refused while the account's budget is spent: else the limit would leak it.
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD}, REMOTE_ADDR=_address(99))
    _assert_refused(response, "reset your password")


def test_failed_logins_of_another_account_do_not_lock_alice_out(client, alice, bob, settings):
    settings.RATE_LOGIN_FAILURES_PER_ACCOUNT = "3/900"
    for n in range(5):
        client.post(reverse("login"), {"username": "bob", "password": "nope"}, REMOTE_ADDR=_address(n))
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD}, REMOTE_ADDR=_address(50))
    assert response.status_code == 302


def test_successful_logins_do_not_spend_the_account_budget(client, alice, settings):
    settings.RATE_LOGIN_FAILURES_PER_ACCOUNT = "2/900"
    for n in range(4):
        response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD}, REMOTE_ADDR=_address(n))
        assert response.status_code == 302
        client.logout()


def test_admin_login_is_limited_per_address(client, alice, settings):
    settings.RATE_LOGIN_PER_CLIENT = "3/300"
    for _ in range(3):
        assert client.post(reverse("admin:login"), {"username": "x", "password": "y"}).status_code == 200
    _assert_refused(client.post(reverse("admin:login"), {"username": "x", "password": "y"}), "sign-in attempts")


def test_admin_login_failures_count_against_the_account(client, alice, settings):
    settings.RATE_LOGIN_FAILURES_PER_ACCOUNT = "3/900"
    for n in range(3):
        client.post(reverse("admin:login"), {"username": "alice", "password": "nope"}, REMOTE_ADDR=_address(n))
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD}, REMOTE_ADDR=_address(9))
    assert response.status_code == 429


def test_signup_is_limited_per_address(client, settings):
    settings.RATE_SIGNUP_PER_CLIENT = "2/3600"
    for n in range(2):
        data = {"username": f"user{n}", "email": f"u{n}@example.org", "password1": PASSWORD, "password2": PASSWORD}
        assert client.post(reverse("signup"), data).status_code == 302
        client.logout()
    data = {"username": "user9", "email": "u9@example.org", "password1": PASSWORD, "password2": PASSWORD}
    _assert_refused(client.post(reverse("signup"), data), "accounts")


def test_password_reset_sends_few_emails_to_one_victim_from_many_addresses(client, alice, settings):
    settings.RATE_PASSWORD_RESET_PER_EMAIL = "3/3600"
    statuses = [
        client.post(reverse("password_reset"), {"email": "alice@example.org"}, REMOTE_ADDR=_address(n)).status_code
        for n in range(15)
    ]
    assert len(mail.outbox) == 3
    assert statuses[:3] == [302] * 3 and set(statuses[3:]) == {429}
    _assert_refused(client.post(reverse("password_reset"), {"email": "alice@example.org"}), "inbox")


def test_password_reset_is_limited_per_address(client, settings):
    settings.RATE_PASSWORD_RESET_PER_CLIENT = "3/3600"
    for n in range(3):
        assert client.post(reverse("password_reset"), {"email": f"x{n}@example.org"}).status_code == 302
    _assert_refused(client.post(reverse("password_reset"), {"email": "x9@example.org"}), "password reset")


def test_api_is_limited_per_token(alice, settings):
    settings.RATE_API_PER_USER = "3/60"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    # From a new address each time: the token is the identity.
    assert [api.get("/api/things/", REMOTE_ADDR=_address(n)).status_code for n in range(3)] == [200] * 3
    response = api.get("/api/things/", REMOTE_ADDR=_address(7))
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "seconds" in response.json()["message"]


def test_anonymous_api_requests_are_limited_per_address(settings):
    settings.RATE_API_PER_CLIENT = "2/60"
    api = APIClient()
    assert [api.get("/api/schema/").status_code for _ in range(2)] == [200, 200]
    response = api.get("/api/schema/")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
