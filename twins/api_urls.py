"""REST API routes under /api/. Twins are addressed by their public slug, never by an integer id."""

from django.urls import path

from twins import apis

urlpatterns = [
    path("things/", apis.ThingsApi.as_view(), name="api-things"),
    path("things/<str:slug>/", apis.ThingApi.as_view(), name="api-thing"),
    path("things/<str:slug>/archive", apis.ThingArchiveApi.as_view(), name="api-thing-archive"),
    path("things/<str:slug>/unarchive", apis.ThingUnarchiveApi.as_view(), name="api-thing-unarchive"),
    path("things/<str:slug>/photo", apis.ThingPhotoApi.as_view(), name="api-thing-photo"),
    path("things/<str:slug>/readings/", apis.ReadingsApi.as_view(), name="api-readings"),
    path("things/<str:slug>/readings/series", apis.ReadingSeriesApi.as_view(), name="api-readings-series"),
    path("things/<str:slug>/journal/", apis.NotesApi.as_view(), name="api-notes"),
    path("things/<str:slug>/journal/<int:note_id>/", apis.NoteApi.as_view(), name="api-note"),
]
