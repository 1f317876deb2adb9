import pytest

from fleets import services
from twins import services as twin_services


@pytest.fixture
def cows(alice):
    """Three of alice's things, each with a temperature kind."""
    return [
        twin_services.twin_create(owner=alice, name=f"Cow {n}", reading_kind="temperature", reading_unit="°C")
        for n in (1, 2, 3)
    ]


@pytest.fixture
def herd(alice):
    return services.group_create(owner=alice, name="Herd")


@pytest.fixture
def farm(alice):
    """alice's site "Farm" with the room "Barn" inside it."""
    site = services.group_create(owner=alice, name="Farm")
    barn = services.group_create(owner=alice, name="Barn", parent=site)
    return {"site": site, "barn": barn}
