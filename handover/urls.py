"""Handover: pages."""

urlpatterns: list = []
