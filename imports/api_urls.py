"""Import and export: REST API routes under /api/."""

urlpatterns: list = []
