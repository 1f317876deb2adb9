"""Recall pages and the dashboard (makers.recall_views)."""

from django.urls import path

from makers import recall_views

urlpatterns = [
    path("orgs/<str:slug>/dashboard", recall_views.dashboard, name="org-dashboard"),
    path("orgs/<str:slug>/recalls/", recall_views.recall_list, name="org-recalls"),
    path("orgs/<str:slug>/recalls/new/", recall_views.recall_new, name="org-recall-new"),
    path("orgs/<str:slug>/recalls/<int:recall_id>/", recall_views.recall_org_detail, name="org-recall"),
    path("recalls/<int:recall_id>/", recall_views.recall_public, name="recall"),
    path("recalls/<int:recall_id>/acknowledge/", recall_views.recall_acknowledge, name="recall-acknowledge"),
    path("recalls/received/<int:inbound_id>/", recall_views.recall_received, name="recall-received"),
    path("models/<str:gtin>/recalls", recall_views.model_recalls, name="model-recalls"),
]
