"""A Redis outage degrades the site instead of breaking it: REDIS_URL points at a closed port (the shared Redis
server is never stopped)."""

from __future__ import annotations

import pytest
import redis
from django.core import mail
from django.urls import reverse

from core.redis import redis_client
from owners.models import Owner
from tests.conftest import PASSWORD
from tests.redis_dbs import redis_url

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"
LIVE_REDIS = redis_url(15)


def test_login_works_while_redis_is_down(client, alice, grinder_tag, redis_down):
    # alice has a tag: saving her last login must not need Redis (the tag page cache's invalidation does).
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("things")).status_code == 200


def test_wrong_password_is_still_refused_and_counted_while_redis_is_down(client, alice, settings, redis_down):
    settings.RATE_LOGIN_FAILURES_PER_ACCOUNT = "2/900"
    for _ in range(2):
        assert client.post(reverse("login"), {"username": "alice", "password": "nope"}).status_code == 200
    assert client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 429


def test_signup_answers_503_with_retry_after_while_redis_is_down(redis_down, client):
    data = {"username": "dora", "email": "dora@example.org", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(reverse("signup"), data)
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert not Owner.objects.filter(username="dora").exists()


def test_password_reset_answers_503_and_sends_nothing_while_redis_is_down(client, alice, redis_down):
    response = client.post(reverse("password_reset"), {"email": "alice@example.org"})
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert mail.outbox == []


def test_healthz_reports_redis_as_degraded(redis_down, client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "redis": "unavailable"}


def test_healthz_reports_redis_ok_when_it_answers(settings, client):
    settings.REDIS_URL = LIVE_REDIS
    response = client.get(reverse("healthz"))
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_api_still_answers_while_redis_is_down(alice, redis_down):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    assert api.get("/api/things/").status_code == 200


def test_a_dropped_pooled_connection_is_retried_once(settings, monkeypatch):
    """After a Redis restart the pool still holds the old sockets: the first command on one must not fail."""
    settings.REDIS_URL = LIVE_REDIS
    client = redis_client()
    client.ping()
    real_send = redis.connection.Connection.send_packed_command
    failures = []

    def send_once_broken(self, command, check_health=True):
        if not failures:
            failures.append(1)
            raise redis.exceptions.ConnectionError("Connection reset by peer (Redis restarted)")
        return real_send(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", send_once_broken)
    assert client.ping() is True
    assert failures == [1]
