"""Moves: the server-to-server API under /api/moves/ (moves.apis)."""

from django.urls import path

from moves import apis

urlpatterns = [
    # The source's side (A).
    path("moves/requests", apis.RequestApi.as_view(), name="api-moves-requests"),
    path("moves/requests/<str:request_id>", apis.StatusApi.as_view(), name="api-moves-request"),
    path("moves/requests/<str:request_id>/arrived", apis.ArrivedApi.as_view(), name="api-moves-arrived"),
    path("moves/requests/<str:request_id>/cancel", apis.CancelApi.as_view(), name="api-moves-cancel"),
    # The destination's side (B).
    path("moves/<str:move_id>/package", apis.PackageApi.as_view(), name="api-moves-package"),
    path("moves/<str:move_id>/package/chunks", apis.PackageChunkApi.as_view(), name="api-moves-package-chunks"),
]
