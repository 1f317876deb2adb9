"""Handover: REST API routes under /api/."""

from django.urls import path

from handover import apis

urlpatterns = [
    # The buyer names the offer in the body, never the URL (its token is a bearer capability).
    path("handovers/view", apis.BuyerViewApi.as_view(), name="api-handovers-view"),
    path("handovers/accept", apis.AcceptApi.as_view(), name="api-handovers-accept"),
    path("handovers", apis.HandoverCreateApi.as_view(), name="api-handovers"),
    path("handovers/<str:handover_id>", apis.HandoverDetailApi.as_view(), name="api-handover"),
]
