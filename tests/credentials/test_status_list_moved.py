"""The status list of a twin that moved to another host (issue 18) answers 308 to the same path there, where the
list lives on under the same public id: credentials issued before the move stay checkable."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from tests.credentials.helpers import standing
from twins.models import Twin

pytestmark = pytest.mark.django_db

NEW_HOST = "https://new.example.org"


def test_a_moved_twins_status_list_answers_308_to_the_same_path_on_its_new_host(grinder):
    url = standing(grinder).data["credentialStatus"]["statusListCredential"]
    path = urlsplit(url).path
    Twin.objects.filter(pk=grinder.pk).update(moved_to=NEW_HOST + "/", moved_at=timezone.now())

    response = Client().get(path)

    assert response.status_code == 308
    assert response["Location"] == NEW_HOST + path
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"credentialSubject" not in response.content, "the old copy is not served"


def test_a_live_twins_status_list_is_still_served_here(grinder):
    path = urlsplit(standing(grinder).data["credentialStatus"]["statusListCredential"]).path
    assert Client().get(path).status_code == 200
