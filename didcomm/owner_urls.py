from django.urls import include, path

from didcomm import views


def _connection_pages(prefix: str, name: str) -> list:
    """The Connections pages under ``prefix``: the same views for a twin's agent (``slug`` in the prefix) and for
    the signed-in owner's own agent, named ``<name>-connections``, ``<name>-connection``, ..."""
    return [
        path(f"{prefix}connections/", views.connections, name=f"{name}-connections"),
        path(f"{prefix}connections/invitation/", views.invitation_create, name=f"{name}-invitation-create"),
        path(f"{prefix}connections/accept/", views.invitation_accept, name=f"{name}-invitation-accept"),
        path(f"{prefix}connections/<int:connection_id>/", views.connection_detail, name=f"{name}-connection"),
        path(
            f"{prefix}connections/<int:connection_id>/message/",
            views.connection_message,
            name=f"{name}-connection-message",
        ),
        path(f"{prefix}connections/<int:connection_id>/ping/", views.connection_ping, name=f"{name}-connection-ping"),
        path(
            f"{prefix}connections/<int:connection_id>/remove/",
            views.connection_remove,
            name=f"{name}-connection-remove",
        ),
    ]


urlpatterns = [
    *_connection_pages("things/<str:slug>/", "thing"),
    *_connection_pages("profile/", "owner"),
    path("", include("didcomm.issue_credential_urls")),  # a credential to a connected wallet: page and API
]
