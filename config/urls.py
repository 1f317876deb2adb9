"""The site's URLs: the core pages, each app's urls.py, and each installed feature's (a feature removed from
INSTALLED_APPS takes its routes with it; the rest of the site keeps working)."""

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("owners.urls")),
    path("", include("twins.urls")),
]
if apps.is_installed("tags"):
    urlpatterns.append(path("", include("tags.urls")))
if apps.is_installed("ingest"):
    urlpatterns.append(path("", include("ingest.urls")))
if apps.is_installed("didcomm"):
    urlpatterns += [
        path("", include("didcomm.owner_urls")),
        # The DIDComm inbound endpoint answers any agent (the envelope is the authentication).
        path("didcomm/", include("didcomm.urls")),
    ]
if apps.is_installed("credentials"):
    urlpatterns.append(path("", include("credentials.urls")))  # its pages and its one API route
if apps.is_installed("sharing"):
    urlpatterns.append(path("", include("sharing.urls")))
if apps.is_installed("makers"):
    urlpatterns.append(path("", include("makers.urls")))
if apps.is_installed("inventory"):
    urlpatterns.append(path("", include("inventory.urls")))
if apps.is_installed("upkeep"):
    urlpatterns.append(path("", include("upkeep.urls")))
if apps.is_installed("bulk"):
    urlpatterns.append(path("", include("bulk.urls")))
if apps.is_installed("fleets"):
    urlpatterns.append(path("", include("fleets.urls")))
if apps.is_installed("imports"):
    urlpatterns.append(path("", include("imports.urls")))
if apps.is_installed("handover"):
    urlpatterns.append(path("", include("handover.urls")))
if apps.is_installed("firmware"):
    urlpatterns.append(path("", include("firmware.urls")))
if apps.is_installed("support"):
    urlpatterns.append(path("", include("support.urls")))
if apps.is_installed("moves"):
    urlpatterns.append(path("", include("moves.urls")))
urlpatterns.append(path("api/", include("config.api_urls")))

if settings.BENCH_ENDPOINTS:
    urlpatterns.append(path("bench/constant", views.bench_constant, name="bench-constant"))

handler400 = "core.views.bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
