"""Routes of handing a credential to a connected wallet (included by didcomm.owner_urls)."""

from django.urls import path

from didcomm import issue_credential_views as views

urlpatterns = [
    path("profile/connections/credentials/", views.credential_exchanges, name="owner-credential-exchanges"),
    path("profile/connections/credentials/send/", views.credential_send, name="owner-credential-send"),
    path(
        "api/connections/<int:connection_id>/credential-offers/",
        views.CredentialOfferApi.as_view(),
        name="api-owner-credential-offer",
    ),
    path(
        "api/credential-offers/<int:credential_offer_id>",
        views.CredentialOfferGetApi.as_view(),
        name="api-credential-offer",
    ),
]
