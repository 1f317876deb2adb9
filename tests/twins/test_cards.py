import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from twins import services
from twins.models import Twin
from twins.selectors import Cursor

pytestmark = pytest.mark.django_db


def _bulk_things(owner, count: int) -> None:
    Twin.objects.bulk_create(
        [Twin(owner=owner, name=f"Thing {i:05d}", lost=(i % 7 == 0)) for i in range(count)], batch_size=2000
    )


def _queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.needs("tags")
def test_cards_page_query_count_does_not_grow_with_10000_things(alice_client, alice):
    from tags.models import Tag

    _bulk_things(alice, 30)
    small = _queries_for(alice_client, reverse("things"))

    def later_page(position: int) -> int:
        # A keyset page further on (features may show their sections on the first page only).
        twin = Twin.objects.filter(owner=alice).order_by("name", "id")[position]
        return _queries_for(alice_client, reverse("things") + f"?cursor={Cursor.of(twin, 'name').encode()}")

    second_page = later_page(23)
    _bulk_things(alice, 10_000)
    things = list(Twin.objects.filter(owner=alice)[:50])
    Tag.objects.bulk_create([Tag(twin=twin) for twin in things])
    large = _queries_for(alice_client, reverse("things"))
    assert large == small
    assert later_page(9000) == second_page


@pytest.mark.needs("tags")
def test_cards_show_latest_reading_tag_count_and_lost_badge(alice_client, grinder):
    from tags.models import Tag

    services.reading_add(twin=grinder, value="15")
    Tag.objects.create(twin=grinder)
    Tag.objects.create(twin=grinder)
    services.twin_set_lost(twin=grinder, lost=True)
    page = alice_client.get(reverse("things")).content.decode()
    assert "Coffee grinder" in page
    assert "15 setting" in page
    assert "2 tags" in page
    assert '<span class="badge lost">lost</span>' in page


def test_search_and_lost_filter(alice_client, alice):
    services.twin_create(owner=alice, name="Red bike")
    lost = services.twin_create(owner=alice, name="Blue bike")
    services.twin_set_lost(twin=lost, lost=True)
    services.twin_create(owner=alice, name="Kettle")
    page = alice_client.get(reverse("things") + "?q=bike&lost=yes").content.decode()
    assert "Blue bike" in page and "Red bike" not in page and "Kettle" not in page
    page = alice_client.get(reverse("things") + "?lost=no").content.decode()
    assert "Red bike" in page and "Kettle" in page and "Blue bike" not in page


def test_pagination_splits_cards(alice_client, alice):
    _bulk_things(alice, 30)
    first = alice_client.get(reverse("things"))
    second = alice_client.get(reverse("things") + first.context["page"].links["next"]).content.decode()
    assert "Thing 00000" in first.content.decode() and "Thing 00029" not in first.content.decode()
    assert "Thing 00029" in second
    assert "← Previous" in second and "Next →" not in second


def _card_names(client, url: str) -> list[str]:
    return [twin.name for twin in client.get(url).context["page"].object_list]


def test_archived_things_leave_the_cards_and_can_be_restored(alice_client, grinder):
    alice_client.post(reverse("thing-archive", args=[grinder.slug]), {"archived": "1"})
    assert _card_names(alice_client, reverse("things")) == []
    assert _card_names(alice_client, reverse("things") + "?archived=1") == ["Coffee grinder"]
    alice_client.post(reverse("thing-archive", args=[grinder.slug]), {"archived": "0"})
    assert _card_names(alice_client, reverse("things")) == ["Coffee grinder"]


def test_another_owners_things_never_appear_on_my_cards(carol_client, grinder):
    assert "Coffee grinder" not in carol_client.get(reverse("things")).content.decode()
