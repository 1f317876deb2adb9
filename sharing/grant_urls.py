"""Pages of grants, webhook endpoints, the delivery log and grant requests (sharing.grant_views)."""

from django.urls import path

from sharing import grant_views as views

urlpatterns = [
    path("sharing/", views.overview, name="sharing"),
    path("sharing/bulk/", views.bulk_grant, name="sharing-bulk"),
    path("sharing/grants/<int:grant_id>/", views.grant_edit, name="sharing-grant"),
    path("sharing/grants/<int:grant_id>/revoke/", views.grant_revoke, name="sharing-grant-revoke"),
    path("sharing/parties/<str:kind>/<int:party_id>/", views.party_detail, name="sharing-party"),
    path("sharing/parties/<str:kind>/<int:party_id>/revoke/", views.party_revoke_all, name="sharing-party-revoke"),
    path("sharing/webhooks/", views.endpoints, name="sharing-endpoints"),
    path("sharing/webhooks/<int:endpoint_id>/delete/", views.endpoint_delete, name="sharing-endpoint-delete"),
    path("sharing/webhooks/<int:endpoint_id>/enable/", views.endpoint_enable, name="sharing-endpoint-enable"),
    path("sharing/requests/<int:message_id>/", views.request_detail, name="sharing-request"),
    path("things/<str:slug>/sharing/", views.thing_sharing, name="thing-sharing"),
]
