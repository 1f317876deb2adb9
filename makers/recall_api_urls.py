"""/api/orgs/<slug>/recalls/, /dashboard/, /received/ (makers.recall_apis)."""

from django.urls import path

from makers import recall_apis

urlpatterns = [
    path("orgs/<str:slug>/recalls/", recall_apis.RecallsApi.as_view(), name="api-org-recalls"),
    path("orgs/<str:slug>/recalls/<int:recall_id>/", recall_apis.RecallDetailApi.as_view(), name="api-org-recall"),
    path("orgs/<str:slug>/dashboard/", recall_apis.DashboardApi.as_view(), name="api-org-dashboard"),
    path("orgs/<str:slug>/received/", recall_apis.ReceivedListApi.as_view(), name="api-org-received"),
]
