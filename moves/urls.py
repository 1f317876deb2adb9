"""Moves: the owner's pages (moves.views)."""

from django.urls import path

from moves import views

urlpatterns = [
    # The destination's owner: bring a thing here, and follow its move.
    path("moves/", views.moves_page, name="moves"),
    path("moves/in/<str:move_in_id>/", views.move_in_page, name="move-in"),
    path("moves/in/<str:move_in_id>/cancel/", views.move_in_cancel, name="move-in-cancel"),
    # The source's owner: confirm (or cancel) a move of their thing to another host.
    path("moves/out/<str:move_out_id>/", views.move_out_page, name="move-out"),
    path("moves/out/<str:move_out_id>/confirm/", views.move_out_confirm, name="move-out-confirm"),
    path("moves/out/<str:move_out_id>/cancel/", views.move_out_cancel, name="move-out-cancel"),
    # ... whose keys are self-held: download the move's entries, upload them signed (python -m ssi.sign).
    path("moves/out/<str:move_out_id>/entries/", views.move_out_entries, name="move-out-entries"),
    path("moves/out/<str:move_out_id>/sign/", views.move_out_sign, name="move-out-sign"),
]
