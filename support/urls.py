"""Support pages."""

urlpatterns: list = []
