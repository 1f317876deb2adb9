"""Import and export: pages."""

from django.urls import path

from imports import views

urlpatterns = [
    path("imports/", views.import_start, name="imports"),
    path("imports/<int:run_id>/", views.import_detail, name="import"),
    path("imports/<int:run_id>/confirm", views.import_confirm, name="import-confirm"),
    path("exports/things.csv", views.export_things, {"fmt": "csv"}, name="things-export-csv"),
    path("exports/things.json", views.export_things, {"fmt": "json"}, name="things-export-json"),
]
