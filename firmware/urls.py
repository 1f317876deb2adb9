"""Firmware pages."""

urlpatterns: list = []
