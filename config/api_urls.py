from django.apps import apps
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from core.api_docs import api_docs

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A plain HTML reference made from the schema (core.api_docs): an index and a page per tag, no script.
    path("docs/", api_docs, name="api-docs"),
    path("docs/<slug:tag>/", api_docs, name="api-docs-tag"),
    path("", include("twins.api_urls")),
]
# Each feature's API, when the feature is installed.
if apps.is_installed("tags"):
    urlpatterns.append(path("", include("tags.api_urls")))
if apps.is_installed("didcomm"):
    urlpatterns.append(path("", include("didcomm.api_urls")))
if apps.is_installed("sharing"):
    urlpatterns.append(path("", include("sharing.api_urls")))
if apps.is_installed("makers"):
    urlpatterns.append(path("", include("makers.api_urls")))
if apps.is_installed("inventory"):
    urlpatterns.append(path("", include("inventory.api_urls")))
if apps.is_installed("upkeep"):
    urlpatterns.append(path("", include("upkeep.api_urls")))
if apps.is_installed("bulk"):
    urlpatterns.append(path("", include("bulk.api_urls")))
if apps.is_installed("fleets"):
    urlpatterns.append(path("", include("fleets.api_urls")))
if apps.is_installed("imports"):
    urlpatterns.append(path("", include("imports.api_urls")))
if apps.is_installed("handover"):
    urlpatterns.append(path("", include("handover.api_urls")))
if apps.is_installed("firmware"):
    urlpatterns.append(path("", include("firmware.api_urls")))
if apps.is_installed("support"):
    urlpatterns.append(path("", include("support.api_urls")))
if apps.is_installed("moves"):
    urlpatterns.append(path("", include("moves.api_urls")))
