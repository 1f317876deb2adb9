"""The ingest gateway over real HTTP (uvicorn in a thread, httptools, the committer thread): every answer is the
web app's answer to the same message, concurrent messages are each answered and stored once, and nothing else is
served."""

from __future__ import annotations

import gc
import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from ingest import services as ingest_services
from ingest.gateway import Gateway
from ingest.models import Delivery
from ssi import webhooks
from tests.asgi_thread import asgi_in_thread
from tests.conftest import run_together
from twins import services as twin_services
from twins.models import Reading, Twin
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gateway(transactional_db) -> str:
    try:
        with asgi_in_thread(Gateway(), lifespan="on", http="httptools") as url:
            yield url
    finally:
        gc.unfreeze()  # the gateway freezes its process's startup objects; here that process is the test run


def test_the_gateway_freezes_what_lives_at_startup_out_of_the_garbage_collectors_walks(gateway):
    """A full collection walks every tracked object: the ~200,000 of a started Django process took about 100 ms of
    the GIL every few dozen batches, until the gateway froze them at startup (ingest.gateway)."""
    assert gc.get_freeze_count() > 0
    status, _, _ = request(gateway, "/healthz", method="GET")
    assert status == 200


def request(url: str, path: str, *, method: str = "POST", body: bytes = b"", headers=None) -> tuple[int, dict, dict]:
    """Status, response headers (lower-case names) and JSON body of one request on a fresh connection."""
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        payload = response.read()
        names = {name.lower(): value for name, value in response.getheaders()}
        return response.status, names, json.loads(payload) if names.get("content-type") == "application/json" else {}
    finally:
        conn.close()


def signed(secret: str, payload, msg_id: str, **overrides) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = webhooks.headers_for(secret, msg_id, int(time.time()), body)
    return body, {**headers, **overrides}


def by_web_app(source_id: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    response = Client().post(f"/hooks/{source_id}", data=body, content_type="application/json", headers=headers)
    return response.status_code, response.json()


def test_a_signed_reading_is_stored_and_answered_as_the_web_app_answers(gateway, source_and_secret, grinder):
    source, secret = source_and_secret
    body, headers = signed(secret, {"value": 21.5}, "msg_gw")
    status, names, answer = request(gateway, f"/hooks/{source.public_id}", body=body, headers=headers)

    assert (status, answer) == (200, {"stored": 1, "webhook_id": "msg_gw"})
    assert names["x-content-type-options"] == "nosniff"
    reading = Reading.objects.get(twin=grinder)
    assert reading.value == 21.5 and reading.unit == grinder.reading_unit
    body, headers = signed(secret, {"value": 21.5}, "msg_web")
    assert by_web_app(source.public_id, body, headers) == (200, {"stored": 1, "webhook_id": "msg_web"})
    # A retry (even with another body) gets the first answer and stores nothing.
    body, headers = signed(secret, {"value": 99}, "msg_gw")
    assert request(gateway, f"/hooks/{source.public_id}", body=body, headers=headers)[::2] == (200, answer)
    assert Reading.objects.filter(twin=grinder).count() == 2


@pytest.mark.parametrize(
    "case",
    ["bad signature", "no signature", "no id", "stale", "not json", "unknown thing", "unknown source", "too large"],
)
def test_each_refusal_is_the_web_apps_answer(gateway, source_and_secret, grinder, case):
    source, secret = source_and_secret
    source_id = source.public_id
    body, headers = signed(secret, {"value": 1}, f"msg_{case}")
    if case == "bad signature":
        headers[webhooks.SIGNATURE_HEADER] = webhooks.headers_for(webhooks.new_secret(), "x", 1, body)[
            webhooks.SIGNATURE_HEADER
        ]
    elif case == "no signature":
        del headers[webhooks.SIGNATURE_HEADER]
    elif case == "no id":
        del headers[webhooks.ID_HEADER]
    elif case == "stale":
        body, headers = body, webhooks.headers_for(secret, "msg_stale", int(time.time()) - 3600, body)
    elif case == "not json":
        body, headers = signed(secret, b"{nope", "msg_not_json")
    elif case == "unknown thing":
        body, headers = signed(secret, {"thing": "nosuch", "value": 1}, "msg_unknown_thing")
    elif case == "unknown source":
        source_id = "nosuch"
    elif case == "too large":
        body, headers = signed(secret, b" " * (1024 * 1024) + b"{}", "msg_large")

    status, _, answer = request(gateway, f"/hooks/{source_id}", body=body, headers=headers)
    assert (status, answer) == by_web_app(source_id, body, headers)
    assert status in (400, 401, 404, 413) and answer["message"]
    assert not Reading.objects.exists() and not Delivery.objects.exists()


def test_a_deactivated_thing_is_409_and_over_the_rate_limit_is_429_with_retry_after(gateway, source_and_secret, alice):
    source, secret = source_and_secret
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="kettle")
    Twin.objects.filter(pk=kettle.pk).update(deactivated_at=timezone.now())
    body, headers = signed(secret, {"thing": "kettle", "value": 1}, "msg_deactivated")
    status, _, answer = request(gateway, f"/hooks/{source.public_id}", body=body, headers=headers)
    assert status == 409 and answer["message"]

    ingest_services.source_update(source=source, name=source.name, mapping=source.mapping, rate_limit="1/600")
    statuses = []
    for n in range(2):
        body, headers = signed(secret, {"thing": "acme-grinder-7", "value": n}, f"msg_limit_{n}")
        status, names, _ = request(gateway, f"/hooks/{source.public_id}", body=body, headers=headers)
        statuses.append((status, "retry-after" in names))
    assert statuses == [(200, False), (429, True)]


def test_nothing_but_the_hooks_is_served(gateway):
    status, names, answer = request(gateway, "/hooks/abc", method="GET")
    assert (status, names["allow"]) == (405, "POST") and answer["message"]
    for path in ("/", "/things/", "/hooks/", "/hooks/a/b", "/admin/"):
        status, _, answer = request(gateway, path)
        assert (status, answer) == (404, {"message": "Not found.", "extra": {}}), path
    status, _, _ = request(gateway, "/healthz", method="GET")
    assert status == 200


def test_concurrent_messages_are_each_answered_and_stored_once(gateway, source_and_secret, grinder):
    source, secret = source_and_secret
    path = f"/hooks/{source.public_id}"
    jobs = []
    for n in range(24):
        body, headers = signed(secret, {"value": n}, f"msg_{n}")
        jobs.append(lambda body=body, headers=headers: request(gateway, path, body=body, headers=headers)[::2])
    for _ in range(4):  # the same message four more times, at the same moment as the rest
        body, headers = signed(secret, {"value": 100}, "msg_twice")
        jobs.append(lambda body=body, headers=headers: request(gateway, path, body=body, headers=headers)[::2])
    body, headers = signed(webhooks.new_secret(), {"value": 7}, "msg_forged")
    jobs.append(lambda: request(gateway, path, body=body, headers=headers)[::2])

    outcomes = run_together(*jobs)
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    answers = [result for _, result in outcomes]
    assert answers[:24] == [(200, {"stored": 1, "webhook_id": f"msg_{n}"}) for n in range(24)]
    assert answers[24:28] == [(200, {"stored": 1, "webhook_id": "msg_twice"})] * 4
    assert answers[28][0] == 401
    values = sorted(Reading.objects.filter(twin=grinder).values_list("value", flat=True))
    assert values == [*range(24), 100]
    deadline = time.monotonic() + 10  # the history flush follows each COMMIT (the immediate task backend)
    while not verify_twin(grinder).ok and time.monotonic() < deadline:
        time.sleep(0.1)
    assert verify_twin(grinder).ok


def test_a_large_batch_and_single_readings_sent_together_are_all_stored(gateway, source_and_secret, grinder):
    from ingest.gateway import LARGE_BODY

    source, secret = source_and_secret
    path = f"/hooks/{source.public_id}"
    batch = {
        "readings": [{"value": n, "kind": "temperature", "unit": "°C", "time": 1763719200 + n} for n in range(400)]
    }
    body, headers = signed(secret, batch, "msg_batch")
    assert len(body) > LARGE_BODY  # the large committer's
    jobs = [lambda: request(gateway, path, body=body, headers=headers)[::2]]
    for n in range(6):
        one, signed_headers = signed(secret, {"value": 1000 + n}, f"msg_single_{n}")
        jobs.append(
            lambda one=one, signed_headers=signed_headers: request(gateway, path, body=one, headers=signed_headers)[::2]
        )

    outcomes = run_together(*jobs)
    assert [result for _, result in outcomes] == [
        (200, {"stored": 400, "webhook_id": "msg_batch"}),
        *[(200, {"stored": 1, "webhook_id": f"msg_single_{n}"}) for n in range(6)],
    ]
    assert Reading.objects.filter(twin=grinder).count() == 406
