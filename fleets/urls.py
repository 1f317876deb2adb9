"""Fleets: pages."""

from django.urls import path

from fleets import views

urlpatterns = [
    path("groups/", views.group_list, name="fleets-groups"),
    path("groups/<int:group_id>/", views.group_detail, name="fleets-group"),
    path("groups/<int:group_id>/edit", views.group_edit, name="fleets-group-edit"),
    path("groups/<int:group_id>/delete", views.group_delete, name="fleets-group-delete"),
    path("groups/<int:group_id>/remove", views.member_remove, name="fleets-group-remove"),
    path("things/<str:slug>/groups", views.thing_groups, name="fleets-thing-groups"),
]
