"""REST API routes under /api/. Twins are addressed by their public slug, never by an integer id."""

from django.urls import path

from twins import api_transfer, apis

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
    # Transfer: the seller's one pending offer per thing; the buyer names an offer in the body, never the URL.
    path("things/<str:slug>/transfer-offer", api_transfer.OfferApi.as_view(), name="api-transfer-offer"),
    path(
        "things/<str:slug>/transfer-offer/entries",
        api_transfer.EntriesApi.as_view(),
        name="api-transfer-offer-entries",
    ),
    path("things/<str:slug>/transfer-offer/sign", api_transfer.SignApi.as_view(), name="api-transfer-offer-sign"),
    path("transfers/", api_transfer.OfferListApi.as_view(), name="api-transfers"),
    path("transfers/view", api_transfer.BuyerViewApi.as_view(), name="api-transfers-view"),
    path("transfers/accept", api_transfer.AcceptApi.as_view(), name="api-transfers-accept"),
]
