"""Routes of authenticity credentials (included by credentials.urls)."""

from django.urls import path

from credentials import authenticity_views

urlpatterns = [
    # Public: what verifiers fetch to learn whether a maker revoked its statement.
    path(
        "credentials/issuer-status/<str:list_id>",
        authenticity_views.issuer_status_list,
        name="credential-issuer-status-list",
    ),
    path(
        "credentials/authenticity/<uuid:credential_id>/credential.json",
        authenticity_views.authenticity_json,
        name="authenticity-credential-json",
    ),
]
