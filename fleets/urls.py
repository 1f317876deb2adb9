"""Fleets: pages."""

urlpatterns: list = []
