"""Import and export: REST API routes under /api/."""

from django.urls import path

from imports import apis

urlpatterns = [
    path("imports", apis.ImportCreateApi.as_view(), name="api-imports"),
    path("imports/<int:run_id>", apis.ImportApi.as_view(), name="api-import"),
    path("imports/<int:run_id>/confirm", apis.ImportConfirmApi.as_view(), name="api-import-confirm"),
    path("exports/things.csv", apis.ExportCsvApi.as_view(), name="api-export-csv"),
    path("exports/things.json", apis.ExportJsonApi.as_view(), name="api-export-json"),
]
