"""API routes of product models, production and claims (included by makers.api_urls under /api/)."""

from django.urls import path

from makers import product_apis

urlpatterns = [
    path("orgs/<str:slug>/models/", product_apis.ProductModelListApi.as_view(), name="api-product-models"),
    path("orgs/<str:slug>/models/<str:gtin>/", product_apis.ProductModelApi.as_view(), name="api-product-model"),
    path("orgs/<str:slug>/models/<str:gtin>/production/", product_apis.ProductionApi.as_view(), name="api-production"),
    path("claims/", product_apis.ClaimApi.as_view(), name="api-claims"),
]
