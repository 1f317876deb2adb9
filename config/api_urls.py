from django.apps import apps
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
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
