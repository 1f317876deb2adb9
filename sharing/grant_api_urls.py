"""API routes of grants, the delivery log and webhook endpoints (sharing.grant_apis), under /api/."""

from django.urls import path

from sharing import grant_apis as apis

urlpatterns = [
    path("things/<str:slug>/grants/", apis.GrantsApi.as_view(), name="api-thing-grants"),
    path("things/<str:slug>/deliveries/", apis.DeliveryListApi.as_view(), name="api-thing-deliveries"),
    path("grants/<int:grant_id>/", apis.GrantApi.as_view(), name="api-grant"),
    path("webhook-endpoints/", apis.EndpointsApi.as_view(), name="api-webhook-endpoints"),
    path("webhook-endpoints/<int:endpoint_id>/", apis.EndpointDeleteApi.as_view(), name="api-webhook-endpoint"),
]
