from django.urls import path

from ingest import apis, views

urlpatterns = [
    path("sources/", views.source_list, name="sources"),
    path("sources/new/", views.source_create, name="source-new"),
    path("sources/<str:source_id>/", views.source_detail, name="source"),
    path("sources/<str:source_id>/things/", views.source_link, name="source-link"),
    path("sources/<str:source_id>/things/<int:link_id>/delete/", views.source_unlink, name="source-unlink"),
    path("sources/<str:source_id>/rotate/", views.source_rotate, name="source-rotate"),
    path("sources/<str:source_id>/end-overlap/", views.source_end_overlap, name="source-end-overlap"),
    path("sources/<str:source_id>/delete/", views.source_delete, name="source-delete"),
    path("things/<str:slug>/device-keys/", views.device_keys, name="device-keys"),
    path("api/things/<str:slug>/device-keys/", apis.DeviceKeysApi.as_view(), name="api-device-keys"),
    path(
        "api/things/<str:slug>/device-keys/<int:key_id>/revoke",
        apis.DeviceKeyRevokeApi.as_view(),
        name="api-device-key-revoke",
    ),
    path(
        "api/things/<str:slug>/device-keys/required",
        apis.DeviceSignatureRequiredApi.as_view(),
        name="api-device-signature-required",
    ),
    path("api/sources/", apis.SourcesApi.as_view(), name="api-sources"),
    path("api/sources/<str:source_id>/", apis.SourceApi.as_view(), name="api-source"),
    path("api/sources/<str:source_id>/rotate", apis.SourceRotateApi.as_view(), name="api-source-rotate"),
    path("api/sources/<str:source_id>/preview", apis.SourcePreviewApi.as_view(), name="api-source-preview"),
    path("api/sources/<str:source_id>/end-overlap", apis.SourceEndOverlapApi.as_view(), name="api-source-end-overlap"),
    path("api/sources/<str:source_id>/things/", apis.SourceLinkApi.as_view(), name="api-source-links"),
    path(
        "api/sources/<str:source_id>/things/<int:link_id>/",
        apis.SourceUnlinkApi.as_view(),
        name="api-source-unlink",
    ),
    # Public: senders sign each message with the source's secret (Standard Webhooks); no login, no CSRF.
    path("hooks/<str:source_id>", apis.hook_receive, name="hook"),
]
