from django.urls import include, path

urlpatterns = [
    path("", include("makers.org_api_urls")),
    path("", include("makers.product_api_urls")),
    path("", include("makers.recall_api_urls")),
]
