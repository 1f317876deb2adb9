"""Organisation API routes under /api/ (makers.org_apis). Organisations are addressed by their slug."""

from django.urls import path

from makers import org_apis

urlpatterns = [
    path("orgs/", org_apis.OrganisationsApi.as_view(), name="api-orgs"),
    path("orgs/<str:slug>/", org_apis.OrganisationApi.as_view(), name="api-org"),
    path("orgs/<str:slug>/members/", org_apis.MembersApi.as_view(), name="api-org-members"),
    path("orgs/<str:slug>/members/<int:member_id>/", org_apis.MemberApi.as_view(), name="api-org-member"),
    path("orgs/<str:slug>/keys/rotate/", org_apis.KeysRotateApi.as_view(), name="api-org-keys-rotate"),
    path("orgs/<str:slug>/tokens/", org_apis.TokensApi.as_view(), name="api-org-tokens"),
    path("orgs/<str:slug>/tokens/<int:token_id>/", org_apis.TokenApi.as_view(), name="api-org-token"),
]
