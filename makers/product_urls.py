"""Routes of product models, production, claims and the GS1 Digital Link resolver (included by makers.urls)."""

from django.urls import path

from makers import product_views, resolver

urlpatterns = [
    # Public.
    path("models/<str:gtin>/", product_views.model_page, name="product-model"),
    path("models/<str:gtin>/documents/<int:document_id>", product_views.document_file, name="product-document"),
    path("claim/01/<path:rest>", product_views.claim_page, name="claim"),
    # GS1 Digital Link: /01/<gtin>[/22/…][/10/…][/21/<serial>] (the serial may hold a decoded "/").
    path("01/<path:rest>", resolver.resolve, name="gs1-resolve"),
    path(".well-known/gs1resolver", resolver.description, name="gs1-resolver-description"),
    # Members of the organisation.
    path("orgs/<str:slug>/models/", product_views.model_list, name="product-models"),
    path("orgs/<str:slug>/models/<str:gtin>/", product_views.model_edit, name="product-model-edit"),
    path("orgs/<str:slug>/models/<str:gtin>/documents/", product_views.document_upload, name="product-document-new"),
    path("orgs/<str:slug>/models/<str:gtin>/production/", product_views.production, name="production"),
    path(
        "orgs/<str:slug>/models/<str:gtin>/production/<str:ticket>.csv",
        product_views.production_csv_download,
        name="production-csv",
    ),
]
