import pytest
from django.urls import reverse

from tags.models import Tag
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_owner_retires_a_tag_and_its_url_then_says_retired_without_the_thing(alice_client, anon_client, grinder_tag):
    response = alice_client.post(reverse("tag-retire", args=[grinder_tag.twin.slug, grinder_tag.pk]))
    assert response.status_code == 302
    grinder_tag.refresh_from_db()
    assert grinder_tag.status == Tag.Status.RETIRED and grinder_tag.retired_at is not None

    page = anon_client.get(grinder_tag.get_absolute_url())
    assert page.status_code == 410
    body = page.content.decode()
    assert "retired" in body
    assert "Coffee grinder" not in body


def test_retired_tag_code_does_not_lead_to_the_thing(alice_client, anon_client, grinder_tag):
    alice_client.post(reverse("tag-retire", args=[grinder_tag.twin.slug, grinder_tag.pk]))
    response = anon_client.get(reverse("tag-enter"), {"code": grinder_tag.code}, follow=True)
    assert response.status_code == 410
    assert "Coffee grinder" not in response.content.decode()


def test_retired_tag_takes_no_messages(alice_client, anon_client, grinder_tag, mailoutbox):
    alice_client.post(reverse("tag-retire", args=[grinder_tag.twin.slug, grinder_tag.pk]))
    response = anon_client.post(reverse("tag-message", args=[grinder_tag.token]), {"message": "hello"})
    assert response.status_code == 410
    assert grinder_tag.twin.owner.notifications.filter(kind="message").count() == 0


def test_retiring_twice_is_harmless(alice_client, grinder_tag):
    url = reverse("tag-retire", args=[grinder_tag.twin.slug, grinder_tag.pk])
    assert alice_client.post(url).status_code == 302
    assert alice_client.post(url).status_code == 302
    assert Tag.objects.get(pk=grinder_tag.pk).status == Tag.Status.RETIRED


def test_retire_needs_post(alice_client, grinder_tag):
    response = alice_client.get(reverse("tag-retire", args=[grinder_tag.twin.slug, grinder_tag.pk]))
    assert response.status_code == 405
    assert Tag.objects.get(pk=grinder_tag.pk).status == Tag.Status.ACTIVE


def test_retire_checks_csrf(alice, grinder_tag):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("tag-retire", args=[grinder_tag.twin.slug, grinder_tag.pk]))
    assert response.status_code == 403
    assert Tag.objects.get(pk=grinder_tag.pk).status == Tag.Status.ACTIVE


def test_private_page_lists_retired_codes_apart(alice_client, grinder_tag):
    alice_client.post(reverse("tag-retire", args=[grinder_tag.twin.slug, grinder_tag.pk]))
    page = client_for(grinder_tag.twin.owner).get(reverse("thing", args=[grinder_tag.twin.slug])).content.decode()
    assert f"Retired: {grinder_tag.display_code}" in page
