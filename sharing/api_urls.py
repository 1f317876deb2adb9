from django.urls import include, path

urlpatterns = [
    path("", include("sharing.grant_api_urls")),
]
