"""Fleets: REST API routes under /api/."""

from django.urls import path

from fleets import apis

urlpatterns = [
    path("groups/", apis.GroupsApi.as_view(), name="api-groups"),
    path("groups/<int:group_id>/", apis.GroupApi.as_view(), name="api-group"),
    path("groups/<int:group_id>/members/", apis.GroupMembersApi.as_view(), name="api-group-members"),
    path("groups/<int:group_id>/members/remove", apis.GroupMembersRemoveApi.as_view(), name="api-group-members-remove"),
]
