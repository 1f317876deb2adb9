"""Recalls: who a recall reaches (exactly the owners of the things it covers), one email per owner, no duplicates on
a re-run, the public places it shows, and the refusals of bad input and of people who may not issue."""

from __future__ import annotations

import pytest
from django.core import mail

from makers import recalls
from makers.models import ProducedThing, ProductModel, Recall, RecallNotice
from owners.models import Notification
from tests.conftest import client_for, make_owner
from twins.models import Twin
from twins.services import twin_create

pytestmark = pytest.mark.django_db


def produce(model: ProductModel, serial: str, owner=None) -> Twin:
    """A thing of `model` made by its organisation and, with `owner`, handed to them (the test's fast path in
    place of a claim: the twin's owner is what a recall reads)."""
    twin = twin_create(owner=model.organisation.account, name=f"{model.name} {serial}")
    ProducedThing.objects.create(twin=twin, model=model, serial=serial)
    if owner is not None:
        Twin.objects.filter(pk=twin.pk).update(owner=owner)
        twin.refresh_from_db()
    return twin


def issue(model: ProductModel, by, capture, **fields) -> Recall:
    """Issue and run the fan-out as the worker would (the task is enqueued once the recall commits)."""
    fields.setdefault("title", "Burr may crack")
    fields.setdefault("text", "Stop using it.")
    with capture(execute=True):
        recall = recalls.recall_issue(organisation=model.organisation, by=by, gtin=model.gtin, **fields)
    recall.refresh_from_db()
    return recall


def recipients(recall: Recall) -> set[str]:
    return set(RecallNotice.objects.filter(recall=recall).values_list("owner__username", flat=True))


@pytest.fixture
def owners(db):
    return {name: make_owner(name) for name in ("olga", "oscar", "otto", "paula")}


@pytest.fixture
def fleet(acme_model, owners):
    """Serials 0001..0006 owned by olga, oscar, otto, paula, olga, and one unclaimed (0006)."""
    holders = ["olga", "oscar", "otto", "paula", "olga", None]
    return {
        f"{i:04d}": produce(acme_model, f"{i:04d}", owners[name] if name else None)
        for i, name in enumerate(holders, start=1)
    }


def test_a_recall_of_listed_serials_reaches_exactly_their_owners(
    acme_model, dora, fleet, django_capture_on_commit_callbacks
):
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0002", "0003"])
    assert recipients(recall) == {"oscar", "otto"}
    assert set(Notification.objects.filter(kind="recall").values_list("owner__username", flat=True)) == {
        "oscar",
        "otto",
    }
    assert sorted(m.to[0] for m in mail.outbox) == ["oscar@example.org", "otto@example.org"]
    assert recall.affected == 2 and recall.fanned_out_at is not None


def test_a_numeric_range_reaches_the_owners_in_it_and_not_outside(
    acme_model, dora, fleet, django_capture_on_commit_callbacks
):
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serial_from="2", serial_to="4")
    # Numeric: 2..4 covers 0002, 0003, 0004 (leading zeros do not matter).
    assert recipients(recall) == {"oscar", "otto", "paula"}


def test_a_lexical_range_covers_equal_length_serials_between_its_ends(
    acme_model, dora, owners, django_capture_on_commit_callbacks
):
    produce(acme_model, "A100", owners["olga"])
    produce(acme_model, "A150", owners["oscar"])
    produce(acme_model, "A1500", owners["otto"])  # longer: outside
    produce(acme_model, "B100", owners["paula"])  # after the end
    produce(acme_model, "a120", owners["paula"])  # small letters sort after capitals (byte order)
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serial_from="A100", serial_to="A199")
    assert recipients(recall) == {"olga", "oscar"}
    assert [recalls.recall_covers(recall, s) for s in ("A100", "A150", "A1500", "B100", "a120")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_a_recall_of_the_whole_model_reaches_every_owner_but_not_the_maker_itself(
    acme_model, dora, fleet, django_capture_on_commit_callbacks
):
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks)
    assert recipients(recall) == {"olga", "oscar", "otto", "paula"}
    assert recall.affected == 6  # the unclaimed one counts as covered, with nobody to tell
    assert not RecallNotice.objects.filter(owner=acme_model.organisation.account).exists()


def test_things_of_another_model_are_not_reached(acme_model, dora, fleet, django_capture_on_commit_callbacks):
    other = ProductModel.objects.create(organisation=acme_model.organisation, name="Other", gtin="00000000000017")
    produce(other, "0002", make_owner("quentin"))
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0002"])
    assert recipients(recall) == {"oscar"}


def test_an_owner_of_two_affected_things_gets_two_inbox_items_and_one_email(
    acme_model, dora, fleet, django_capture_on_commit_callbacks
):
    issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0001", "0005"])
    items = Notification.objects.filter(owner__username="olga", kind="recall")
    assert {item.twin_id for item in items} == {fleet["0001"].pk, fleet["0005"].pk}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["olga@example.org"]
    # The one email names both things.
    assert fleet["0001"].name in mail.outbox[0].body and fleet["0005"].name in mail.outbox[0].body
    assert all(item.emailed_at is not None for item in items)


def test_running_the_fan_out_again_adds_no_notice_item_or_email(
    acme_model, dora, fleet, django_capture_on_commit_callbacks
):
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks)
    counts = (RecallNotice.objects.count(), Notification.objects.count(), len(mail.outbox))
    with django_capture_on_commit_callbacks(execute=True):
        assert recalls.recall_fan_out(recall.pk) == 6
    with django_capture_on_commit_callbacks(execute=True):
        recalls.recall_emails_send.call(recall.pk, list(Notification.objects.values_list("owner_id", flat=True)))
    assert (RecallNotice.objects.count(), Notification.objects.count(), len(mail.outbox)) == counts == (5, 5, 4)


def test_the_owner_at_fan_out_is_the_one_told(acme_model, dora, fleet, owners, django_capture_on_commit_callbacks):
    Twin.objects.filter(pk=fleet["0002"].pk).update(owner=owners["paula"])  # oscar sold it before the recall
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0002"])
    assert recipients(recall) == {"paula"}


def test_the_inbox_item_names_the_thing_and_leads_to_the_recall_page(
    acme_model, dora, fleet, django_capture_on_commit_callbacks
):
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0002"])
    item = Notification.objects.get(owner__username="oscar")
    assert item.kind == Notification.Kind.RECALL
    assert item.twin_id == fleet["0002"].pk
    assert item.action_url == f"/recalls/{recall.pk}/"
    assert item.title == "Recall: Burr may crack"


# --- Where it shows ---------------------------------------------------------------------------------------------


def test_the_recall_shows_on_the_affected_twins_private_page_and_not_on_others(
    acme_model, dora, fleet, owners, django_capture_on_commit_callbacks
):
    issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0002"])
    page = client_for(owners["oscar"]).get(f"/things/{fleet['0002'].slug}/")
    assert page.status_code == 200
    assert 'data-testid="recall-banner"' in page.content.decode() and "Burr may crack" in page.content.decode()
    other = client_for(owners["otto"]).get(f"/things/{fleet['0003'].slug}/")
    assert 'data-testid="recall-banner"' not in other.content.decode()


def test_the_recall_shows_on_the_affected_twins_public_page(
    acme_model, dora, fleet, anon_client, django_capture_on_commit_callbacks
):
    from tags.models import Tag

    tag = Tag.objects.create(twin=fleet["0002"])
    other = Tag.objects.create(twin=fleet["0003"])
    before = anon_client.get(f"/t/{tag.token}")
    assert 'data-testid="recall-banner"' not in before.content.decode()
    issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0002"])
    page = anon_client.get(f"/t/{tag.token}").content.decode()
    assert 'data-testid="recall-banner"' in page and "Burr may crack" in page
    assert 'data-testid="recall-banner"' not in anon_client.get(f"/t/{other.token}").content.decode()


def test_the_model_recalls_route_says_whether_a_serial_is_recalled(
    acme_model, dora, fleet, anon_client, django_capture_on_commit_callbacks
):
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serial_from="2", serial_to="3")
    url = f"/models/{acme_model.gtin}/recalls"
    covered = anon_client.get(url, {"serial": "0003"}, headers={"Accept": "application/json"}).json()
    assert covered["recalled"] is True and covered["recalls"][0]["id"] == recall.pk
    assert covered["recalls"][0]["url"] == f"/recalls/{recall.pk}/"
    outside = anon_client.get(url, {"serial": "0004"}, headers={"Accept": "application/json"}).json()
    assert outside == {
        "gtin": acme_model.gtin,
        "model": acme_model.name,
        "serial": "0004",
        "recalled": False,
        "recalls": [],
    }
    assert anon_client.get(url, headers={"Accept": "application/json"}).json()["recalled"] is True
    html = anon_client.get(url, {"serial": "0003"}).content.decode()
    assert 'data-testid="recalled"' in html and "Burr may crack" in html
    assert 'data-testid="not-recalled"' in anon_client.get(url, {"serial": "0009"}).content.decode()


def test_the_model_recalls_route_normalises_short_gtins_and_refuses_bad_ones(acme_model, anon_client):
    assert anon_client.get("/models/9506000134352/recalls").status_code == 200  # GTIN-13 form
    bad = anon_client.get("/models/09506000134353/recalls", headers={"Accept": "application/json"})
    assert bad.status_code == 400 and "check digit" in bad.json()["message"]
    assert anon_client.get("/models/00000000000017/recalls").status_code == 404  # valid, unknown
    bad_serial = anon_client.get(
        f"/models/{acme_model.gtin}/recalls", {"serial": "no spaces"}, headers={"Accept": "application/json"}
    )
    assert bad_serial.status_code == 400 and "serial" in bad_serial.json()["message"]


def test_the_recalls_include_lists_a_models_recalls(acme_model, dora, django_capture_on_commit_callbacks):
    from django.template.loader import render_to_string

    recall = issue(acme_model, dora, django_capture_on_commit_callbacks)
    html = render_to_string("makers/_recalls.html", {"recalls": recalls.recalls_for(acme_model)})
    assert f"/recalls/{recall.pk}/" in html and recall.title in html
    assert render_to_string("makers/_recalls.html", {"recalls": []}).strip() == ""


def test_the_recall_page_is_public_and_lets_an_owner_acknowledge(
    acme_model, dora, fleet, owners, anon_client, django_capture_on_commit_callbacks
):
    recall = issue(acme_model, dora, django_capture_on_commit_callbacks, serials=["0001", "0005"])
    public = anon_client.get(f"/recalls/{recall.pk}/").content.decode()
    assert recall.title in public and "Acknowledge" not in public
    olga = client_for(owners["olga"])
    assert "Acknowledge" in olga.get(f"/recalls/{recall.pk}/").content.decode()
    assert olga.post(f"/recalls/{recall.pk}/acknowledge/").status_code == 302
    assert RecallNotice.objects.filter(recall=recall, acknowledged_at__isnull=False).count() == 2
    # Somebody else's acknowledgement changes nothing of theirs.
    client_for(owners["otto"]).post(f"/recalls/{recall.pk}/acknowledge/")
    assert RecallNotice.objects.filter(recall=recall, acknowledged_at__isnull=False).count() == 2


# --- Refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"gtin": "00000000000017"}, "gtin", "no product model"),
        ({"gtin": "09506000134353"}, "gtin", "check digit"),
        ({"serials": []}, "serials", "empty"),
        ({"serial_from": "0005"}, "serial_to", "both ends"),
        ({"serial_from": "9", "serial_to": "10"}, None, None),  # numeric: fine
        ({"serial_from": "10", "serial_to": "9"}, "serial_from", "starts after it ends"),
        ({"serial_from": "B100", "serial_to": "A100"}, "serial_from", "starts after it ends"),
        ({"serial_from": "A10", "serial_to": "A100"}, "serial_to", "same length"),
        ({"link": "http://acme.example/recall"}, "link", "https"),
        ({"serials": ["ok", "not a serial!"]}, "serials", "not a GS1 serial"),
        ({"serials": ["1"], "serial_from": "1", "serial_to": "2"}, "serials", "not both"),
        ({"title": ""}, "title", ""),
    ],
)
def test_bad_input_is_refused_with_a_message_and_writes_nothing(acme, acme_model, dora, fields, field, says):
    from django.core.exceptions import ValidationError

    data = {"gtin": acme_model.gtin, "title": "t", "text": "x", **fields}
    if field is None:
        recalls.recall_issue(organisation=acme, by=dora, **data)
        return
    with pytest.raises(ValidationError) as caught:
        recalls.recall_issue(organisation=acme, by=dora, **data)
    messages = caught.value.message_dict
    assert field in messages and says.lower() in " ".join(messages[field]).lower()
    assert not Recall.objects.exists()


# --- The issuing page -----------------------------------------------------------------------------------------


def test_an_admin_issues_a_recall_from_the_page(acme_model, dora, fleet, django_capture_on_commit_callbacks):
    client = client_for(dora)
    assert client.get("/orgs/acme/recalls/new/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/orgs/acme/recalls/new/",
            {
                "gtin": acme_model.gtin,
                "title": "Burr may crack",
                "text": "Stop using it.",
                "severity": "critical",
                "serials": "0002\n0003",
            },
        )
    recall = Recall.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orgs/acme/recalls/{recall.pk}/"
    assert recall.serials == ["0002", "0003"] and recipients(recall) == {"oscar", "otto"}
    assert "Owners told" in client.get(response["Location"]).content.decode()


def test_the_page_shows_what_is_wrong_and_issues_nothing(acme_model, dora):
    response = client_for(dora).post(
        "/orgs/acme/recalls/new/",
        {
            "gtin": acme_model.gtin,
            "title": "t",
            "text": "x",
            "severity": "warning",
            "serial_from": "9",
            "serial_to": "1",
        },
    )
    assert response.status_code == 400
    assert "starts after it ends" in response.content.decode()
    assert not Recall.objects.exists()
