"""Bulk actions: REST API routes under /api/."""

urlpatterns: list = []
