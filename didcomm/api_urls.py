"""The connections API under /api/ (included by config.api_urls when didcomm is installed): the same operations
for a thing's agent (`things/<slug>/connections/…`) and for the signed-in owner's own (`connections/…`)."""

from django.urls import path

from didcomm import api_connections as apis


def _connection_routes(prefix: str, name: str) -> list:
    return [
        path(f"{prefix}connections/", apis.ConnectionListApi.as_view(), name=f"api-{name}-connections"),
        path(
            f"{prefix}connections/invitations/",
            apis.InvitationCreateApi.as_view(),
            name=f"api-{name}-invitation-create",
        ),
        path(f"{prefix}connections/accept", apis.InvitationAcceptApi.as_view(), name=f"api-{name}-invitation-accept"),
        path(f"{prefix}connections/<int:connection_id>/", apis.ConnectionApi.as_view(), name=f"api-{name}-connection"),
        path(
            f"{prefix}connections/<int:connection_id>/messages/",
            apis.MessageSendApi.as_view(),
            name=f"api-{name}-connection-message",
        ),
        path(
            f"{prefix}connections/<int:connection_id>/ping",
            apis.PingSendApi.as_view(),
            name=f"api-{name}-connection-ping",
        ),
    ]


urlpatterns = [
    *_connection_routes("things/<str:slug>/", "thing"),
    *_connection_routes("", "owner"),
]
