"""Labels: colour + name per owner, readable text on any colour, set on a thing's page, cards filtered by them."""

import re

import pytest
from django.core.exceptions import ValidationError

from inventory import labels
from inventory.models import Label
from tests.conftest import client_for
from twins import services

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "colour", ["#000000", "#ffffff", "#777777", "#3366cc", "#f9a825", "#00ff00", "#ff0000", "#767676"]
)
def test_label_text_has_at_least_aa_contrast_on_any_colour(colour):
    assert labels.contrast(colour, labels.text_colour(colour)) >= 4.5


def test_every_colour_channel_combination_gets_aa_contrast():
    for r in range(0, 256, 17):
        for g in range(0, 256, 17):
            for b in range(0, 256, 17):
                colour = f"#{r:02x}{g:02x}{b:02x}"
                assert labels.contrast(colour, labels.text_colour(colour)) >= 4.5, colour


def test_a_label_needs_a_name_and_a_hex_colour(alice):
    with pytest.raises(ValidationError, match="#rrggbb"):
        labels.label_create(owner=alice, name="Red", colour="red")
    response = client_for(alice).post("/labels/", {"name": "", "colour": "#ff0000"})
    assert response.status_code == 400
    response = client_for(alice).post("/labels/", {"name": "Red", "colour": "#zzzzzz"})
    assert response.status_code == 400
    assert "#rrggbb" in response.content.decode()
    assert not Label.objects.exists()


def test_one_owner_cannot_have_two_labels_of_one_name(alice, carol, red):
    response = client_for(alice).post("/labels/", {"name": "red", "colour": "#00ff00"})
    assert response.status_code == 400
    assert "already have a label called red" in response.content.decode()
    labels.label_create(owner=carol, name="Red")  # carol's own


def test_labels_are_set_on_the_thing_page_and_shown_on_cards(alice, red):
    blue = labels.label_create(owner=alice, name="Blue", colour="#3366cc")
    kettle = services.twin_create(owner=alice, name="Kettle")
    services.twin_create(owner=alice, name="Plain")
    client = client_for(alice)
    assert client.post(f"/things/{kettle.slug}/labels", {"labels": [red.pk, blue.pk]}).status_code == 302
    assert set(labels.labels_of(kettle)) == {red, blue}
    page = client.get("/things/", {"label": red.pk})
    assert [twin.name for twin in page.context["page"]] == ["Kettle"]
    badge = r'data-testid="card-label" style="background:(#\w+);color:(#\w+)">(\w+)<'
    badges = re.findall(badge, page.content.decode())
    assert badges == [("#3366cc", "#ffffff", "Blue"), ("#c62828", "#ffffff", "Red")]
    assert client.post(f"/things/{kettle.slug}/labels", {"labels": [blue.pk]}).status_code == 302
    assert labels.labels_of(kettle) == [blue]
    assert client.post(f"/things/{kettle.slug}/labels", {}).status_code == 302
    assert labels.labels_of(kettle) == []


def test_a_strangers_label_cannot_be_put_on_a_thing_or_filtered_by(alice, carol, red):
    carols = labels.label_create(owner=carol, name="Carol's")
    kettle = services.twin_create(owner=alice, name="Kettle")
    client = client_for(alice)
    response = client.post(f"/things/{kettle.slug}/labels", {"labels": [red.pk, carols.pk]})
    assert response.status_code == 400
    assert "No such label among yours" in response.content.decode()
    assert labels.labels_of(kettle) == []  # not half applied
    assert client.post(f"/things/{kettle.slug}/labels", {"labels": ["x"]}).status_code == 400
    response = client_for(carol).get("/things/", {"label": red.pk})
    assert response.status_code == 400
    assert "No such label among yours" in response.content.decode()
    assert client_for(alice).get("/things/", {"label": "abc"}).status_code == 400


def test_deleting_a_label_leaves_the_things(alice, red):
    kettle = services.twin_create(owner=alice, name="Kettle")
    labels.thing_set_labels(twin=kettle, labels=[red])
    assert client_for(alice).post(f"/labels/{red.pk}/delete").status_code == 302
    assert not Label.objects.exists()
    kettle.refresh_from_db()


def test_a_label_is_renamed_and_recoloured(alice, red):
    response = client_for(alice).post(f"/labels/{red.pk}/edit", {"name": "Scarlet", "colour": "#FF2400"})
    assert response.status_code == 302
    red.refresh_from_db()
    assert (red.name, red.colour) == ("Scarlet", "#ff2400")
