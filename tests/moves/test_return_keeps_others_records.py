"""A thing coming back to a host it left (A → B → A) takes its copy's place, and other accounts' records about
that copy stay (review finding 18): a recall notice sent to a previous owner, a previous owner's inbox item, a
past sale, the maker's row of the serial (its claim code, its production time), the credentials the previous
holders keep in their wallets here, a previous owner's support case. The thing's own data (what the package
brings back: its log, readings, tags...) is replaced, never doubled.

One database plays both hosts (tests/twins/test_moving.py's A → B → A): on B the twin is restored from the twins
app's parts only (a second copy of the features' rows could not sit beside A's in one database); the package back
carries B's twins parts and, for every feature, the data as it left A (what B would send back unchanged).
"""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from credentials import emergency, keepers
from credentials.models import AccessCredential, OwnershipCredential, StatusList
from makers.claims import claim
from makers.models import ProducedThing, Recall, RecallNotice
from makers.production import produce
from owners.models import Notification
from owners.services import notify
from ssi import statuslist
from support.models import Case
from tags.models import Tag
from tests.conftest import make_owner
from tests.makers.conftest import acme, acme_model, dora, erin  # noqa: F401 (fixtures)
from tests.twins.test_moving import A_DOMAIN, A_URL, B_DOMAIN, B_URL, keys_of, twins_package
from twins import access, moving, parts
from twins.models import DidLogEntry, Reading, TransferOffer, Twin, new_public_id
from twins.services import reading_add, twin_create
from twins.transfer import offer_accept, offer_create

pytestmark = [pytest.mark.django_db, pytest.mark.needs("makers", "tags", "credentials", "support")]

TWINS_PARTS = {part.name for part in parts.PARTS}


@pytest.fixture
def on_a(settings):
    settings.DID_DOMAIN, settings.SITE_URL = A_DOMAIN, A_URL
    return settings


@pytest.fixture
def journey(on_a, acme_model, alice, bob, carol, django_capture_on_commit_callbacks):
    """Acme makes grinder G-1 on A; alice claims it and sells it to bob; Acme's recall reached alice; bob moves it
    to carol on B; carol moves it back to frank on A. Returns (the copy A kept, the package back, frank)."""
    ((produced, code),) = produce(model=acme_model, serials=["G-1"], by=None)
    claim(twin=produced.twin, buyer=alice, code=code)
    twin = Twin.objects.get(pk=produced.twin_id)
    reading_add(twin=twin, value=3)
    Tag.objects.create(twin=twin, label="on the lid")
    recall = Recall.objects.create(organisation=acme_model.organisation, model=acme_model, title="Burr", text="!")
    RecallNotice.objects.create(recall=recall, twin=twin, owner=alice)
    notify(owner=alice, kind=Notification.Kind.SYSTEM, title="Recall: Burr", twin=twin)
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer_create(twin=twin, seller=alice, redact_kinds=[]), buyer=bob)
    there, copy, slug, package_to_b = _to_b(on_a, Twin.objects.get(pk=twin.pk), by=bob, to=carol)
    frank = make_owner("frank")
    features = {k: v for k, v in package_to_b["parts"].items() if k not in TWINS_PARTS}
    package_back = _package_back(on_a, there, by=carol, to=frank, copy=copy, slug=slug, features=features)
    return Twin.objects.get(pk=copy.pk), package_back, frank


def _to_b(on_a, twin: Twin, *, by, to) -> tuple[Twin, Twin, str, dict]:
    """``twin`` leaves A for ``to`` on B (the same database: the copy A keeps steps aside while the twin is there;
    twins parts only, see above). Returns (the twin live on B, A's copy, the copy's slug, the package sent)."""
    current, next_hash = keys_of(to, twin)
    entries = moving.move_entries(
        twin, by=by, new_domain=B_DOMAIN, new_update_key=current, new_next_key_hash=next_hash, destination_url=B_URL
    )
    package = json.loads(json.dumps(moving.move_package(twin, entries=entries)))
    moving.release(twin, entries=entries, destination_url=B_URL)
    copy = Twin.objects.get(pk=twin.pk)
    slug = copy.slug
    Twin.objects.filter(pk=copy.pk).update(slug=new_public_id())
    on_a.DID_DOMAIN, on_a.SITE_URL = B_DOMAIN, B_URL
    twins_only = {**package, "parts": {k: v for k, v in package["parts"].items() if k in TWINS_PARTS}}
    there = moving.arrive(twins_only, owner=to, source_url=A_URL, destination_url=B_URL)
    moving.activate(there)
    return Twin.objects.get(pk=there.pk), copy, slug, package


def _package_back(on_a, there: Twin, *, by, to, copy: Twin, slug: str, features: dict) -> dict:
    """The package B sends back to ``to`` on A: the twins parts B makes, the features' parts given; then B's copy
    goes elsewhere and A's copy takes its slug again, back on A's settings."""
    current, next_hash = keys_of(to, there)
    back = moving.move_entries(
        there, by=by, new_domain=A_DOMAIN, new_update_key=current, new_next_key_hash=next_hash, destination_url=A_URL
    )
    package_back = json.loads(json.dumps(twins_package(there, back)))
    package_back["parts"].update(features)
    Twin.objects.filter(pk=there.pk).update(slug=new_public_id(), did="")  # B's copy, elsewhere
    Twin.objects.filter(pk=copy.pk).update(slug=slug)
    on_a.DID_DOMAIN, on_a.SITE_URL = A_DOMAIN, A_URL
    return package_back


def test_a_thing_coming_back_keeps_other_accounts_records_about_its_old_copy(
    journey, alice, bob, django_capture_on_commit_callbacks
):
    copy, package, frank = journey
    produced = ProducedThing.objects.get(twin=copy)
    notice = RecallNotice.objects.get(twin=copy)
    inbox = Notification.objects.get(owner=alice, twin=copy, title="Recall: Burr")
    sales = set(TransferOffer.objects.filter(twin=copy).values_list("pk", "seller_id"))
    held = set(OwnershipCredential.objects.filter(twin=copy).values_list("pk", "holder_id"))
    status_list = StatusList.objects.get(twin=copy)
    assert {holder for _, holder in held} == {alice.pk, bob.pk}
    assert alice.pk in {seller for _, seller in sales}

    returned = moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL)
    with django_capture_on_commit_callbacks(execute=True):
        returned = moving.activate(returned)

    assert not Twin.objects.filter(pk=copy.pk).exists() and returned.slug == copy.slug
    # Acme's row of G-1: the same row (its claim code and production time), now the returned thing's.
    assert ProducedThing.objects.get(serial="G-1").pk == produced.pk
    assert ProducedThing.objects.get(pk=produced.pk).twin_id == returned.pk
    assert ProducedThing.objects.get(pk=produced.pk).claim_code_hash == produced.claim_code_hash
    # The recall notice alice got, her inbox item, the sale alice → bob: all still there.
    assert RecallNotice.objects.get(pk=notice.pk).twin_id == returned.pk
    assert Notification.objects.get(pk=inbox.pk).twin_id == returned.pk
    assert set(TransferOffer.objects.filter(twin=returned).values_list("pk", "seller_id")) == sales
    # The previous holders' credentials stay in their wallets, on the same status list, revoked; frank holds one.
    assert held <= set(OwnershipCredential.objects.filter(twin=returned).values_list("pk", "holder_id"))
    assert StatusList.objects.get(twin=returned).pk == status_list.pk
    standing = OwnershipCredential.objects.standing().get(twin=returned)
    assert standing.holder == frank
    # The thing's own data came back once, not twice.
    assert Reading.objects.filter(twin=returned).count() == 1
    tokens = [item["token"] for item in package["parts"]["tags"]["tags"]]
    assert tokens and set(Tag.objects.filter(token__in=tokens).values_list("twin_id", flat=True)) == {returned.pk}
    assert DidLogEntry.objects.filter(twin=returned).count() == len(package["parts"]["did_log"])


def test_the_owners_own_support_case_comes_back_from_the_package_not_twice(journey, bob, alice):
    """A case of the account the thing comes back to is the package's (with what was added on B); a previous
    owner's case stays theirs, as it is here."""
    copy, package, frank = journey
    mine = Case.objects.create(side=Case.Side.OWNER, thread_id="t-frank", owner=frank, twin=copy, subject="Old")
    hers = Case.objects.create(side=Case.Side.OWNER, thread_id="t-alice", owner=alice, twin=copy, subject="Burr")
    package["parts"]["support"] = [
        *(package["parts"].get("support") or []),
        _case_item(mine, subject="Old, continued on B"),
        _case_item(hers, subject="Burr, as B had it"),  # the package's copy of a previous owner's case
    ]
    returned = moving.activate(moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL))
    assert list(Case.objects.filter(public_id=mine.public_id).values_list("subject", "twin_id")) == [
        ("Old, continued on B", returned.pk)
    ]
    assert list(Case.objects.filter(public_id=hers.public_id).values_list("subject", "owner_id", "twin_id")) == [
        ("Burr", alice.pk, returned.pk)
    ]


def _case_item(case: Case, *, subject: str) -> dict:
    """A support case as the package carries it (support.portability.export)."""
    return {
        "public_id": case.public_id,
        "thread_id": case.thread_id,
        "mode": case.mode,
        "status": case.status,
        "subject": subject,
        "peer_label": "",
        "thing": {},
        "connection": None,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "messages": [],
    }


def test_the_owners_agent_messages_in_the_inbox_come_back_once(journey):
    """The returning account's inbox items about the copy stayed with it; the package brings them again (the
    didcomm part carries the agent's inbox items): not added twice."""
    copy, package, frank = journey
    item = Notification.objects.create(owner=frank, twin=copy, kind=Notification.Kind.AGENT, title="Acme: hello")
    row = {
        "kind": item.kind,
        "title": item.title,
        "body": item.body,
        "sender_name": item.sender_name,
        "read_at": None,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }
    agent = package["parts"].get("didcomm") or {
        "created_at": None,
        **{name: [] for name in ("connections", "recipient_keys", "inbound", "outbound", "credential_exchanges")},
    }
    agent["notifications"] = [*(agent.get("notifications") or []), row]
    package["parts"]["didcomm"] = agent
    returned = moving.activate(moving.arrive(package, owner=frank, source_url=B_URL, destination_url=A_URL))
    assert list(Notification.objects.filter(owner=frank, title="Acme: hello").values_list("pk", "twin_id")) == [
        (item.pk, returned.pk)
    ]


# --- access the owner gave on A, before the thing left (review finding 1, session 11) --------------------------


def _there_and_back(on_a, twin: Twin, *, on_b, before_return: Callable[[], None] | None = None) -> Twin:
    """``twin``'s owner moves it to ``on_b`` on B, who moves it back to the same owner on A; live again on A.
    What B sends back for the features is the data as it left A, with the status list's bits as B set them on
    arrival (the package's ``revoke``): every credential that stood on A is revoked there."""
    owner = twin.owner
    there, copy, slug, package_to_b = _to_b(on_a, twin, by=owner, to=on_b)
    features = {k: v for k, v in package_to_b["parts"].items() if k not in TWINS_PARTS}
    sent = features["credentials"]
    bits = statuslist.Bitstring.from_bytes(base64.b64decode(sent["status_list"]["bits"]))
    for index in sent["revoke"]:
        bits.set(index)
    sent["status_list"]["bits"], sent["revoke"] = base64.b64encode(bits.to_bytes()).decode(), []
    package_back = _package_back(on_a, there, by=on_b, to=owner, copy=copy, slug=slug, features=features)
    if before_return is not None:
        before_return()
    returned = moving.arrive(package_back, owner=owner, source_url=B_URL, destination_url=A_URL)
    moving.activate(returned)
    return Twin.objects.get(pk=returned.pk)


def _disagreements(twin: Twin) -> list[str]:
    """The thing's credentials whose row and published bit disagree (standing here, revoked on the list)."""
    status_list = StatusList.objects.get(twin=twin)
    bits = status_list.bitstring()
    return [
        str(row)
        for model in (OwnershipCredential, AccessCredential)
        for row in model.objects.filter(status_list=status_list, revoked_at__isnull=True)
        if bits.test(row.status_index)
    ]


def test_a_keeper_of_the_old_copy_is_not_a_keeper_of_the_thing_that_came_back(
    on_a, bob, carol, django_capture_on_commit_callbacks
):
    dave = make_owner("dave")
    mower = twin_create(owner=bob, name="Mower")
    kept = keepers.access_credential_issue(
        twin=mower, issued_by=bob, holder=dave, role="keeper", capabilities=list(access.CAPABILITIES)
    )
    assert access.access_for(dave, mower) is not None

    with django_capture_on_commit_callbacks(execute=True):
        returned = _there_and_back(on_a, Twin.objects.get(pk=mower.pk), on_b=carol)

    assert returned.owner == bob and AccessCredential.objects.get(pk=kept.pk).twin_id == returned.pk
    assert access.access_for(dave, returned) is None
    assert keepers.provider(dave, returned) is None
    assert AccessCredential.objects.get(pk=kept.pk).revoked_at is not None
    assert _disagreements(returned) == []
    # The owner's own credential of before the move was revoked by B too: the return issues a new one.
    assert OwnershipCredential.objects.standing().get(twin=returned).holder == bob


def test_an_emergency_link_of_the_old_copy_opens_nothing_after_the_return(
    on_a, bob, carol, django_capture_on_commit_callbacks
):
    pump = twin_create(owner=bob, name="Insulin pump")
    grant, token = emergency.emergency_grant_create(
        guardian=bob, recipient="Mountain rescue", twins=[pump], kinds=["location"], hours=24
    )
    assert [twin.pk for twin in emergency.granted_twins(grant)] == [pump.pk]

    with django_capture_on_commit_callbacks(execute=True):
        returned = _there_and_back(on_a, Twin.objects.get(pk=pump.pk), on_b=carol)

    assert returned.owner == bob
    assert emergency.granted_twins(emergency.grant_for_token(token)) == []
    assert _disagreements(returned) == []


def test_a_release_ends_the_access_the_owner_gave_here(on_a, bob, carol):
    """The source agrees with the host the thing went to, which revokes them on the way in."""
    from tests.moves.test_parts_harness import release

    dave = make_owner("dave")
    mower = twin_create(owner=bob, name="Mower")
    kept = keepers.access_credential_issue(
        twin=mower,
        issued_by=bob,
        holder=dave,
        role="service",
        capabilities=[access.VIEW],
        expires_at=timezone.now() + timedelta(days=7),
    )
    release(Twin.objects.get(pk=mower.pk), to=carol)

    row = AccessCredential.objects.get(pk=kept.pk)
    assert row.revoked_at is not None and row.revoked_reason == "moved"
    assert StatusList.objects.get(twin_id=mower.pk).bitstring().test(row.status_index)


def test_a_return_marks_revoked_every_credential_its_list_says_is_revoked(
    on_a, bob, carol, django_capture_on_commit_callbacks
):
    """A copy a source left before it ended access at release (its rows still standing): the list the thing
    brings back says they are revoked, and so does the database once it is here."""
    dave = make_owner("dave")
    mower = twin_create(owner=bob, name="Mower")
    kept = keepers.access_credential_issue(
        twin=mower, issued_by=bob, holder=dave, role="keeper", capabilities=list(access.CAPABILITIES)
    )

    def as_before() -> None:
        AccessCredential.objects.filter(pk=kept.pk).update(revoked_at=None, revoked_reason="")
        status_list = StatusList.objects.get(twin_id=mower.pk)
        status_list.bits = b""  # all clear, as the copy kept it
        status_list.save(update_fields=["bits"])

    with django_capture_on_commit_callbacks(execute=True):
        returned = _there_and_back(on_a, Twin.objects.get(pk=mower.pk), on_b=carol, before_return=as_before)

    row = AccessCredential.objects.get(pk=kept.pk)
    assert row.revoked_at is not None and row.revoked_reason == "moved"
    assert access.access_for(dave, returned) is None
    assert _disagreements(returned) == []
