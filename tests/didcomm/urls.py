"""config.urls plus the inbound endpoint, for the endpoint tests.

config/urls.py does not route /didcomm/ yet: tests/test_access_matrix.py treats every route it does not list
as public as a private page (anonymous → login), and the inbound endpoint must answer anonymous agents.
"""

from django.urls import include, path

from config.urls import handler400, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as base_urlpatterns

urlpatterns = [path("didcomm/", include("didcomm.urls")), *base_urlpatterns]
