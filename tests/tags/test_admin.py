import pytest

from tags.models import Scan
from tags.services import scan_record
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    return client_for(alice)


def test_tag_admin_finds_a_tag_by_its_code_as_people_type_it(admin_client, grinder, grinder_tag):
    from tags.models import Tag

    other = Tag.objects.create(twin=grinder)
    typed = f"{grinder_tag.code[:4].lower()}-{grinder_tag.code[4:].lower()}"
    page = admin_client.get("/admin/tags/tag/", {"q": typed}).content.decode()
    assert grinder_tag.code in page and other.code not in page


def test_scan_admin_lists_scans_and_searches_by_code(admin_client, grinder_tag):
    scan_record(tag=grinder_tag, by_owner=False, user_agent="Android · Chrome")
    response = admin_client.get("/admin/tags/scan/", {"q": grinder_tag.code})
    assert response.status_code == 200
    assert "Android · Chrome" in response.content.decode()
    assert Scan.objects.count() == 1
    assert admin_client.get("/admin/tags/scan/add/").status_code == 403
