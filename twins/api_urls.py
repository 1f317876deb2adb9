"""REST API routes (filled in by twins/apis.py)."""

urlpatterns: list = []
