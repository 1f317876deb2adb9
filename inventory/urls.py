"""The inventory's pages: places (and moving things into one from a phone), labels, a thing's place and labels."""

from django.urls import path

from inventory import views

urlpatterns = [
    path("places/", views.location_list, name="inventory-locations"),
    path("places/move/end", views.move_end, name="inventory-move-end"),
    path("places/<str:location_id>/", views.location_detail, name="inventory-location"),
    path("places/<str:location_id>/edit", views.location_edit, name="inventory-location-edit"),
    path("places/<str:location_id>/delete", views.location_delete, name="inventory-location-delete"),
    path("places/<str:location_id>/move", views.location_move, name="inventory-location-move"),
    path("labels/", views.label_list, name="inventory-labels"),
    path("labels/<int:label_id>/edit", views.label_edit, name="inventory-label-edit"),
    path("labels/<int:label_id>/delete", views.label_delete, name="inventory-label-delete"),
    path("things/<str:slug>/place", views.thing_location, name="inventory-thing-location"),
    path("things/<str:slug>/labels", views.thing_labels, name="inventory-thing-labels"),
]
