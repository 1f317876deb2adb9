"""REST API routes of places and labels under /api/."""

from django.urls import path

from inventory import apis

urlpatterns = [
    path("places/", apis.LocationsApi.as_view(), name="api-places"),
    path("places/<str:location_id>/", apis.LocationApi.as_view(), name="api-place"),
    path("labels/", apis.LabelsApi.as_view(), name="api-labels"),
    path("labels/<int:label_id>/", apis.LabelApi.as_view(), name="api-label"),
    path("things/<str:slug>/inventory", apis.ThingInventoryApi.as_view(), name="api-thing-inventory"),
]
