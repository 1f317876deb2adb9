"""Members and roles: invitation links (single use, hashed, expiring), joining, leaving, removing, changing roles,
and the rules that keep an organisation manageable (it always keeps an admin; a member cannot act as one)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone

from makers import orgs
from makers.access import NotAllowed
from makers.models import MemberInvitation, Membership
from tests.conftest import client_for, make_owner, run_together

pytestmark = pytest.mark.django_db


def role_of(organisation, owner) -> str | None:
    membership = Membership.objects.filter(organisation=organisation, owner=owner).first()
    return membership.role if membership else None


def member_id(organisation, owner) -> int:
    return Membership.objects.get(organisation=organisation, owner=owner).pk


# --- Invitations --------------------------------------------------------------------------------------------


def test_an_invitation_keeps_only_the_hash_and_expires_in_seven_days(acme, dora):
    token, invitation = orgs.invitation_create(organisation=acme, by=dora, role="admin")
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(MemberInvitation.objects.filter(pk=invitation.pk).values().get())
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)


def test_the_link_made_on_the_settings_page_lets_a_signed_in_person_join_once(acme, dora, carol, bob):
    response = client_for(dora).post("/orgs/acme/invitations/", {"role": "member", "email": ""})
    assert response.status_code == 200
    link = response.context["new_link"]
    path = link.split("://", 1)[1].split("/", 1)[1]
    path = "/" + path
    assert path.startswith("/orgs/join/")
    # The settings page shows it only in that response.
    assert link.encode() not in client_for(dora).get("/orgs/acme/settings/").content

    carol_client = client_for(carol)
    page = carol_client.get(path)
    assert page.status_code == 200 and b"Join Acme Grinders" in page.content
    response = carol_client.post(path)
    assert response.status_code == 302 and response["Location"] == "/orgs/acme/settings/"
    assert role_of(acme, carol) == Membership.Role.MEMBER

    # Single use: the next person is refused, and told why.
    bob_client = client_for(bob)
    page = bob_client.get(path)
    assert page.status_code == 410 and b"used already" in page.content
    response = bob_client.post(path)
    assert response.status_code == 410 and b"used already" in response.content
    assert role_of(acme, bob) is None


def test_signed_out_visitors_are_sent_to_log_in_and_come_back_to_the_link(acme, dora):
    token, _ = orgs.invitation_create(organisation=acme, by=dora)
    path = f"/orgs/join/{token}/"
    for method in ("get", "post"):
        response = getattr(Client(), method)(path)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={quote(path, safe='/')}"
    assert MemberInvitation.objects.get().used_at is None


def test_an_expired_invitation_is_refused(acme, dora, carol):
    token, invitation = orgs.invitation_create(organisation=acme, by=dora)
    MemberInvitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client_for(carol).post(f"/orgs/join/{token}/")
    assert response.status_code == 410 and b"expired" in response.content
    assert role_of(acme, carol) is None


def test_an_unknown_or_withdrawn_link_is_a_404(acme, dora, carol):
    token, invitation = orgs.invitation_create(organisation=acme, by=dora)
    client = client_for(carol)
    assert client.get("/orgs/join/not-a-token/").status_code == 404
    assert client_for(dora).post(f"/orgs/acme/invitations/{invitation.pk}/revoke/").status_code == 302
    assert client.post(f"/orgs/join/{token}/").status_code == 404
    assert role_of(acme, carol) is None


def test_a_member_already_in_is_told_so_and_the_link_stays_usable(acme, dora, erin, carol):
    token, _ = orgs.invitation_create(organisation=acme, by=dora, role="admin")
    response = client_for(erin).post(f"/orgs/join/{token}/")
    assert response.status_code == 409 and b"already a member" in response.content
    assert role_of(acme, erin) == Membership.Role.MEMBER
    assert client_for(carol).post(f"/orgs/join/{token}/").status_code == 302
    assert role_of(acme, carol) == Membership.Role.ADMIN


def test_a_member_cannot_invite(acme, erin):
    with pytest.raises(NotAllowed):
        orgs.invitation_create(organisation=acme, by=erin)
    response = client_for(erin).post("/orgs/acme/invitations/", {"role": "admin"})
    assert response.status_code == 403
    assert not MemberInvitation.objects.exists()


# --- Roles and removal --------------------------------------------------------------------------------------


def test_a_member_cannot_remove_or_demote_an_admin(acme, dora, erin):
    client = client_for(erin)
    dora_id = member_id(acme, dora)
    response = client.post(f"/orgs/acme/members/{dora_id}/remove/")
    assert response.status_code == 403 and b"Only an admin" in response.content
    response = client.post(f"/orgs/acme/members/{dora_id}/role/", {"role": "member"})
    assert response.status_code == 403
    response = client.post(f"/orgs/acme/members/{member_id(acme, erin)}/role/", {"role": "admin"})
    assert response.status_code == 403, "a member cannot promote themselves"
    assert role_of(acme, dora) == Membership.Role.ADMIN
    assert role_of(acme, erin) == Membership.Role.MEMBER


def test_the_last_admin_can_be_neither_removed_nor_demoted_nor_leave(acme, dora):
    client = client_for(dora)
    dora_id = member_id(acme, dora)
    for url, data in (
        (f"/orgs/acme/members/{dora_id}/remove/", {}),
        (f"/orgs/acme/members/{dora_id}/role/", {"role": "member"}),
    ):
        response = client.post(url, data)
        assert response.status_code == 409
        assert b"last admin" in response.content
    assert role_of(acme, dora) == Membership.Role.ADMIN


def test_with_a_second_admin_the_first_can_step_down_and_leave(acme, dora, erin):
    client = client_for(dora)
    assert client.post(f"/orgs/acme/members/{member_id(acme, erin)}/role/", {"role": "admin"}).status_code == 302
    assert role_of(acme, erin) == Membership.Role.ADMIN
    assert client.post(f"/orgs/acme/members/{member_id(acme, dora)}/role/", {"role": "member"}).status_code == 302
    assert role_of(acme, dora) == Membership.Role.MEMBER
    response = client.post(f"/orgs/acme/members/{member_id(acme, dora)}/remove/")
    assert response.status_code == 302 and response["Location"] == "/orgs/"
    assert role_of(acme, dora) is None


def test_a_member_may_leave(acme, erin):
    response = client_for(erin).post(f"/orgs/acme/members/{member_id(acme, erin)}/remove/")
    assert response.status_code == 302
    assert role_of(acme, erin) is None
    assert client_for(erin).get("/orgs/acme/settings/").status_code == 404


def test_an_admin_removes_a_member_who_then_sees_nothing(acme, dora, erin):
    response = client_for(dora).post(f"/orgs/acme/members/{member_id(acme, erin)}/remove/")
    assert response.status_code == 302
    assert role_of(acme, erin) is None
    assert client_for(erin).get("/orgs/acme/settings/").status_code == 404


def test_a_bad_role_is_a_400(acme, dora, erin):
    response = client_for(dora).post(f"/orgs/acme/members/{member_id(acme, erin)}/role/", {"role": "owner"})
    assert response.status_code == 400 and b"Choose a role" in response.content
    assert role_of(acme, erin) == Membership.Role.MEMBER


def test_a_membership_of_another_organisation_cannot_be_reached_through_your_own(acme, dora):
    frank = make_owner("frank")
    globex = orgs.organisation_create(slug="globex", name="Globex", admin=frank)
    frank_id = member_id(globex, frank)
    Membership.objects.create(organisation=globex, owner=make_owner("gus"), role=Membership.Role.ADMIN)
    client = client_for(dora)
    assert client.post(f"/orgs/acme/members/{frank_id}/remove/").status_code == 404
    assert client.post(f"/orgs/acme/members/{frank_id}/role/", {"role": "member"}).status_code == 404
    assert role_of(globex, frank) == Membership.Role.ADMIN


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(acme, dora, erin):
    """The last-admin rule is decided under the organisation's row lock: without it both could see the other as
    an admin still, and both step down."""
    orgs.member_role_set(organisation=acme, member_id=member_id(acme, erin), role="admin", by=dora)
    dora_id, erin_id = member_id(acme, dora), member_id(acme, erin)
    outcomes = run_together(
        lambda: orgs.member_role_set(organisation=acme, member_id=erin_id, role="member", by=dora),
        lambda: orgs.member_role_set(organisation=acme, member_id=dora_id, role="member", by=erin),
    )
    assert [kind for kind, _ in outcomes].count("ok") <= 1, outcomes
    assert Membership.objects.filter(organisation=acme, role="admin").count() == 1
