"""The status list URLs a batch of new things' credentials name (formatted from one prefix a batch, not a
reverse() a thing: issue 16) are the lists' served URLs, on this instance's SITE_URL."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse

from credentials.models import StatusList
from credentials.services import ownership_credentials_issue_new
from tests.credentials.helpers import standing
from twins.models import Twin
from twins.services import twins_create_many

pytestmark = pytest.mark.django_db


def _made_in_a_batch(owner, count: int) -> list[Twin]:
    with transaction.atomic():
        twins = twins_create_many(
            owner=owner, items=[{"name": f"Cow {n}", "serial": f"C-{n}"} for n in range(count)], send_events=False
        )
        ownership_credentials_issue_new(twins=twins)
    return twins


def test_a_batchs_credentials_name_their_lists_served_url(alice):
    for twin in _made_in_a_batch(alice, 3):
        status_list = StatusList.objects.get(twin=twin)
        url = standing(twin).data["credentialStatus"]["statusListCredential"]
        assert url == json.loads(status_list.document)["id"]
        assert url == settings.SITE_URL + reverse("credential-status-list", args=[status_list.public_id])
        assert Client().get(urlsplit(url).path).status_code == 200


@override_settings(SITE_URL="https://things.example.org")
def test_a_batchs_list_urls_follow_the_site_url(alice):
    twin = _made_in_a_batch(alice, 1)[0]
    status_list = StatusList.objects.get(twin=twin)
    expected = "https://things.example.org" + reverse("credential-status-list", args=[status_list.public_id])
    assert standing(twin).data["credentialStatus"]["statusListCredential"] == expected
    assert json.loads(status_list.document)["id"] == expected
