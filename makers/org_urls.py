"""Organisation pages. Public: the profile, the DID log (did:webvh maps did:webvh:SCID:host:orgs:<slug> to
/orgs/<slug>/did.jsonl), its did:web form, and the invitation link (any signed-in account holding it). Everything
else is for members (404 to anyone else)."""

from django.urls import path

from makers import org_views

urlpatterns = [
    path("orgs/", org_views.organisation_list, name="organisations"),
    path("orgs/new/", org_views.organisation_create, name="organisation-create"),
    path("orgs/join/<str:token>/", org_views.join, name="organisation-join"),
    path("orgs/<str:slug>/", org_views.profile, name="organisation"),
    path("orgs/<str:slug>/did.jsonl", org_views.did_log, name="organisation-did-log"),
    path("orgs/<str:slug>/did.json", org_views.did_web, name="organisation-did-web"),
    path("orgs/<str:slug>/settings/", org_views.organisation_settings, name="organisation-settings"),
    path("orgs/<str:slug>/settings/profile/", org_views.organisation_profile_edit, name="organisation-profile-edit"),
    path("orgs/<str:slug>/invitations/", org_views.invitation_create, name="organisation-invite"),
    path(
        "orgs/<str:slug>/invitations/<int:invitation_id>/revoke/",
        org_views.invitation_revoke,
        name="organisation-invitation-revoke",
    ),
    path("orgs/<str:slug>/members/<int:member_id>/role/", org_views.member_role, name="organisation-member-role"),
    path("orgs/<str:slug>/members/<int:member_id>/remove/", org_views.member_remove, name="organisation-member-remove"),
    path("orgs/<str:slug>/keys/", org_views.keys_rotate, name="organisation-keys"),
    path("orgs/<str:slug>/tokens/", org_views.tokens, name="organisation-tokens"),
    path("orgs/<str:slug>/tokens/<int:token_id>/revoke/", org_views.token_revoke, name="organisation-token-revoke"),
]
