"""Routes of the credentials feature (included by config.urls when installed)."""

urlpatterns: list = []
