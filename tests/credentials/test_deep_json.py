"""Deeply nested JSON on the credentials' anonymous entry points (review finding 1b): the emergency presentation
API and the verify and present pages answer it with a 400 in words, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

DEEP = "[" * 30_000 + "]" * 30_000  # within the pages' 64 KiB document


def test_a_deep_emergency_presentation_is_a_400_in_words():
    response = APIClient().post("/api/emergency/present", data=DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["message"]


def test_a_deep_document_on_the_verify_page_is_a_400_in_words():
    response = Client().post("/verify/credential", {"document": DEEP, "action": "check"})
    assert response.status_code == 400
    assert "not JSON" in response.content.decode()
