"""Bulk actions: pages."""

urlpatterns: list = []
