"""The makers' pages: organisations and members (makers.org_urls), product models, production, claims and the GS1
Digital Link resolver (makers.product_urls), recalls and the dashboard (makers.recall_urls)."""

from django.urls import include, path

urlpatterns = [
    path("", include("makers.org_urls")),
    path("", include("makers.product_urls")),
    path("", include("makers.recall_urls")),
]
