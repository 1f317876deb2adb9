"""The upkeep and firmware parts of a move: purchase, schedules and documents (files included) come back equal;
the accepted firmware and the decisions come back linked to the maker's releases where they are here, the
accepted sequence kept as the rollback floor, the history's firmware entry pointing at its restored check."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from firmware import services as firmware_services
from firmware.models import TwinFirmware, UpdateCheck
from firmware.portability import export as firmware_export
from makers.claims import claim
from makers.production import produce
from tests.firmware.conftest import upload
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401 (fixtures)
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    A_URL,
    B_URL,
    assert_portable,
    mover,
    on_a,
)
from twins.models import HistoryEntry
from upkeep.models import Attachment, Purchase, Schedule
from upkeep.portability import export as upkeep_export

pytestmark = [pytest.mark.django_db, pytest.mark.needs("upkeep", "firmware"), pytest.mark.usefixtures("on_a")]

PDF = b"%PDF-1.4\n% a receipt\n" + bytes(range(256)) * 4


@pytest.fixture
def kept_up(grinder):
    Purchase.objects.create(
        twin=grinder,
        purchased_on=date(2025, 3, 1),
        price=Decimal("129.90"),
        currency="EUR",
        bought_from="Kaffeehaus",
        warranty_ends=date(2027, 3, 1),
        warranty_reminded_for=date(2027, 3, 1),
    )
    Schedule.objects.create(twin=grinder, name="Clean the burrs", every=3, unit="months", next_due=date(2026, 1, 1))
    receipt = Attachment(twin=grinder, title="Receipt", filename="receipt.pdf", content_type="application/pdf")
    receipt.size = len(PDF)
    receipt.file.save("receipt.pdf", ContentFile(PDF), save=False)
    receipt.save()
    return grinder


def test_purchase_schedules_and_documents_come_back_equal_for_the_new_owner(mover, kept_up, bob):
    before = upkeep_export(kept_up)
    _, moved = mover(kept_up, to_owner=bob)
    assert upkeep_export(moved) == before
    (document,) = Attachment.objects.filter(twin=moved)
    with document.file.open("rb") as handle:
        assert handle.read() == PDF
    assert f"upkeep/{moved.pk}/" in document.file.name and "receipt" not in document.file.name


def test_upkeep_is_json_and_holds_no_sealed_blob_of_ours(mover, kept_up, bob):
    package, _ = mover(kept_up, to_owner=bob)
    assert_portable(package, "upkeep")


@pytest.fixture
def alices_grinder(acme_model, alice, on_a):
    """Acme's G-1, claimed by alice. Acme's status list is served by the destination (the maker is there; one
    database plays both hosts): the maker's link comes back only on its verified authenticity credential."""
    on_a.SITE_URL = B_URL
    try:
        ((produced, code),) = produce(model=acme_model, serials=["G-1"], by=None)
    finally:
        on_a.SITE_URL = A_URL
    claim(twin=produced.twin, buyer=alice, code=code)
    produced.twin.refresh_from_db()
    return produced.twin


@pytest.fixture
def updated(alices_grinder, acme_model, erin, alice):
    """Alice's grinder accepted 2.0 (sequence 2), then refused 1.0 (a rollback)."""
    firmware_services.release_publish(model=acme_model, by=erin, upload=upload(), version="1.0")
    two = firmware_services.release_publish(model=acme_model, by=erin, upload=upload(), version="2.0")
    assert firmware_services.update_accept(twin=alices_grinder, release=two, by=alice).outcome == "accepted"
    one = acme_model.firmware_releases.get(version="1.0")
    assert firmware_services.update_accept(twin=alices_grinder, release=one, by=alice).outcome == "refused"
    return alices_grinder


def test_firmware_state_and_decisions_come_back_equal_linked_to_the_releases_here(mover, updated, bob, acme_model):
    before = firmware_export(updated)
    assert before["state"]["sequence"] == 2 and len(before["checks"]) == 2
    _, moved = mover(updated, to_owner=bob)
    after = firmware_export(moved)
    assert [{k: v for k, v in c.items() if k != "id"} for c in after["checks"]] == [
        {k: v for k, v in c.items() if k != "id"} for c in before["checks"]
    ]
    assert after["state"] == before["state"]
    state = TwinFirmware.objects.get(twin=moved)
    assert state.release == acme_model.firmware_releases.get(version="2.0")
    accepted = UpdateCheck.objects.get(twin=moved, outcome="accepted")
    assert accepted.by == bob
    assert HistoryEntry.objects.get(twin=moved, kind="firmware").ref_id == accepted.pk
    one = acme_model.firmware_releases.get(version="1.0")
    again = firmware_services.update_accept(twin=moved, release=one, by=bob)
    assert (again.outcome, again.reason) == ("refused", "rollback")  # the floor came along


def test_where_the_maker_is_not_the_accepted_sequence_still_travels(mover, updated, bob, acme_model):
    _, moved = mover(updated, to_owner=bob, delete=lambda: acme_model.delete())
    state = TwinFirmware.objects.get(twin=moved)
    assert state.release is None and state.sequence == 2


def test_firmware_is_json_and_holds_no_sealed_blob_of_ours(mover, updated, bob):
    package, _ = mover(updated, to_owner=bob)
    assert_portable(package, "firmware")


def test_a_documents_name_from_a_package_is_cleaned_as_an_uploads_is(mover, kept_up, bob):
    def rename(package: dict) -> None:
        (document,) = package["parts"]["upkeep"]["documents"]
        document["filename"] = "../../etc/\u202eevil\r\nSet-Cookie: x.exe"

    _, moved = mover(kept_up, to_owner=bob, tamper=rename)
    (document,) = Attachment.objects.filter(twin=moved)
    assert document.filename.endswith(".pdf") and document.content_type == "application/pdf"
    assert not any(c in document.filename for c in "/\\\r\n\u202e")


@pytest.mark.parametrize("claimed", ["image/png", "text/html"])
def test_a_document_whose_bytes_are_not_the_type_the_package_names_is_refused(mover, kept_up, bob, claimed):
    from twins.portability import PackageError

    def retype(package: dict) -> None:
        package["parts"]["upkeep"]["documents"][0]["content_type"] = claimed

    with pytest.raises(PackageError, match="not what its record says"):
        mover(kept_up, to_owner=bob, tamper=retype)
