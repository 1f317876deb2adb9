"""REST API of imports and exports. An import is its owner's alone: anyone else's is a 404.

POST /api/imports (multipart `file`) keeps the file and answers with its dry run; POST /api/imports/<id>/confirm
queues it for the task worker; GET /api/imports/<id> follows it. GET /api/exports/things.csv (or .json) streams
the owner's things in the import's shape, filtered like the cards list (`?q=`, `lost=`…).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bulk.selection import Selection
from core.drf import ERRORS, StrictInputSerializer
from imports import export, selectors, services
from imports.models import ImportRowError, ImportRun

MAX_ERRORS_SHOWN = 100


class RowErrorSerializer(serializers.ModelSerializer):
    text = serializers.CharField()

    class Meta:
        model = ImportRowError
        ref_name = "ImportRowError"
        fields = ("row", "column", "message", "text")
        read_only_fields = fields


class RunOutputSerializer(serializers.ModelSerializer):
    dry_run = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField()

    class Meta:
        model = ImportRun
        ref_name = "ImportRun"
        fields = (
            "id",
            "filename",
            "format",
            "size",
            "status",
            "message",
            "rows",
            "dry_run",
            "progress",
            "errors",
            "created_at",
            "confirmed_at",
            "finished_at",
            "page",
        )
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "properties": {k: {"type": "integer"} for k in ("create", "update", "unchanged", "errors")},
        }
    )
    def get_dry_run(self, run: ImportRun) -> dict[str, int]:
        return {
            "create": run.will_create,
            "update": run.will_update,
            "unchanged": run.will_leave,
            "errors": run.check_errors,
        }

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                k: {"type": "integer"} for k in ("done", "percent", "created", "updated", "unchanged", "failed")
            },
        }
    )
    def get_progress(self, run: ImportRun) -> dict[str, int]:
        return {
            "done": run.done_rows,
            "percent": run.percent,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.left_alone,
            "failed": run.failed,
        }

    @extend_schema_field(RowErrorSerializer(many=True))
    def get_errors(self, run: ImportRun) -> list[dict[str, Any]]:
        """The first per-row errors of the dry run (before confirming) or of the import (after)."""
        phase = ImportRowError.Phase.CHECK if run.confirmed_at is None else ImportRowError.Phase.APPLY
        errors = run.errors.filter(phase=phase).order_by("row", "id")[:MAX_ERRORS_SHOWN]
        return RowErrorSerializer(errors, many=True).data

    @extend_schema_field(OpenApiTypes.STR)
    def get_page(self, run: ImportRun) -> str:
        return reverse("import", args=[run.pk])


def _out(run: ImportRun, code: int = status.HTTP_200_OK) -> Response:
    return Response(RunOutputSerializer(run).data, status=code)


class ImportCreateApi(APIView):
    parser_classes = [MultiPartParser]

    class InputSerializer(StrictInputSerializer):
        file = serializers.FileField(help_text="CSV with a heading row, or JSON.")

        class Meta:
            ref_name = "ImportCreate"

    @extend_schema(
        operation_id="imports_create",
        summary="Upload things to import: the dry run",
        description="Nothing is imported until you confirm. The first 100 per-row errors; all on `page`.",
        request={"multipart/form-data": InputSerializer},
        responses={201: RunOutputSerializer, 400: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        serializer = ImportCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        try:
            run = services.import_upload(owner=request.user, upload=upload, filename=upload.name)
        except services.ImportRefused as exc:
            return Response({"message": exc.message, "extra": {}}, status=exc.status)
        return _out(run, status.HTTP_201_CREATED)


class ImportApi(APIView):
    @extend_schema(
        operation_id="imports_get",
        summary="An import",
        responses={200: RunOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, run_id: int) -> Response:
        return _out(selectors.run_get(viewer=request.user, run_id=run_id))


class ImportConfirmApi(APIView):
    @extend_schema(
        operation_id="imports_confirm",
        summary="Confirm an import",
        description="Queued for the task worker; follow it with GET.",
        request=None,
        responses={202: RunOutputSerializer, 404: ERRORS[404]},
    )
    def post(self, request: Request, run_id: int) -> Response:
        run = selectors.run_get(viewer=request.user, run_id=run_id)
        return _out(services.import_confirm(run=run), status.HTTP_202_ACCEPTED)


class _FileAnswer(BaseContentNegotiation):
    """An export answers with its file whatever Accept or `?format=` says (a refusal in the one JSON shape)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


EXPORT_DESCRIPTION = "Filtered like GET /api/things/, or `thing=<slug>` repeated; `things.json` for JSON."


def _export(request: Request, fmt: str) -> HttpResponse:
    try:
        twins = Selection.from_params(request.query_params, request.query_params.getlist("thing")).twins(request.user)
        twins.exists()
    except ValidationError as exc:
        return Response({"message": " ".join(exc.messages), "extra": {}}, status=400)
    return export.export_response(twins, fmt)


class ExportCsvApi(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FileAnswer

    @extend_schema(
        operation_id="exports_things_csv",
        summary="Export your things as CSV",
        description=EXPORT_DESCRIPTION,
        responses={(200, "text/csv"): OpenApiTypes.STR, 400: ERRORS[400]},
    )
    def get(self, request: Request) -> HttpResponse:
        return _export(request, "csv")


class ExportJsonApi(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FileAnswer

    # The CSV export's twin, in JSON: left out of the schema to keep /api/docs/ under its weight (README notes).
    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return _export(request, "json")
