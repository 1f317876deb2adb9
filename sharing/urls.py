"""Sharing's pages: grants, webhook endpoints and the delivery log (sharing.grant_urls), introductions
(sharing.introduction_urls)."""

from django.urls import include, path

urlpatterns = [
    path("", include("sharing.grant_urls")),
    path("", include("sharing.introduction_urls")),
    path("", include("sharing.delivery_urls")),
]
