"""Handover pages."""

from django.urls import path

from handover import views

urlpatterns = [
    # The seller's.
    path("handovers/", views.handover_list, name="handovers"),
    path("handovers/new/", views.handover_new, name="handover-new"),
    path("handovers/<str:handover_id>/", views.handover_detail, name="handover"),
    path("handovers/<str:handover_id>/qr.svg", views.handover_qr, name="handover-qr"),
    path("handovers/<str:handover_id>/cancel/", views.handover_cancel_view, name="handover-cancel"),
    # A self-held seller's two steps: download every thing's entries, upload them signed.
    path("handovers/<str:handover_id>/entries/", views.handover_entries, name="handover-entries"),
    path("handovers/<str:handover_id>/sign/", views.handover_sign_view, name="handover-sign"),
    # Any signed-in account holding the offer link (the buyer). Under /transfer/<token>/ like a single offer's
    # link, so core.logging keeps the token out of the logs.
    path("transfer/<str:token>/things", views.offer_page, name="handover-offer"),
    path("transfer/<str:token>/things/accept", views.offer_accept_view, name="handover-accept"),
]
