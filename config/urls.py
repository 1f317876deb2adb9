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
    path("", include("tags.urls")),
    path("", include("ingest.urls")),
    path("", include("didcomm.owner_urls")),
    path("api/", include("config.api_urls")),
    # The DIDComm inbound endpoint answers any agent (the envelope is the authentication).
    path("didcomm/", include("didcomm.urls")),
]

if settings.BENCH_ENDPOINTS:
    urlpatterns.append(path("bench/constant", views.bench_constant, name="bench-constant"))

handler400 = "core.views.bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
