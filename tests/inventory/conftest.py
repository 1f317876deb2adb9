import pytest

from inventory import labels, locations


@pytest.fixture
def home_tree(alice):
    """alice's Home > Kitchen > Drawer."""
    home = locations.location_create(owner=alice, name="Home")
    kitchen = locations.location_create(owner=alice, name="Kitchen", parent=home)
    drawer = locations.location_create(owner=alice, name="Drawer", parent=kitchen)
    return {"home": home, "kitchen": kitchen, "drawer": drawer}


@pytest.fixture
def red(alice):
    return labels.label_create(owner=alice, name="Red", colour="#c62828")
