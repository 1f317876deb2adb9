"""Moves: the server-to-server API under /api/moves/ (moves.apis), and the owner's own calls for signing a move with
self-held keys under /api/move-requests/ (moves.self_held_apis)."""

from django.urls import path

from moves import apis, self_held_apis

urlpatterns = [
    # The thing's owner on the source, keys self-held: sign the move offline (moves.self_held_apis). People, not
    # instances: outside /api/moves/, with the account's login.
    path(
        "move-requests/<str:move_out_id>/entries", self_held_apis.EntriesApi.as_view(), name="api-move-request-entries"
    ),
    path("move-requests/<str:move_out_id>/signed", self_held_apis.SignedApi.as_view(), name="api-move-request-signed"),
    # The source's side (A).
    path("moves/requests", apis.RequestApi.as_view(), name="api-moves-requests"),
    path("moves/requests/<str:request_id>", apis.StatusApi.as_view(), name="api-moves-request"),
    path("moves/requests/<str:request_id>/arrived", apis.ArrivedApi.as_view(), name="api-moves-arrived"),
    path("moves/requests/<str:request_id>/cancel", apis.CancelApi.as_view(), name="api-moves-cancel"),
    # The destination's side (B).
    path("moves/<str:move_id>/package", apis.PackageApi.as_view(), name="api-moves-package"),
    path("moves/<str:move_id>/package/chunks", apis.PackageChunkApi.as_view(), name="api-moves-package-chunks"),
]
