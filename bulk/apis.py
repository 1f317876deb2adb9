"""REST API for bulk jobs: start one over a selection, follow it, cancel it. Every job is its owner's alone:
anyone else's is a 404."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bulk import jobs, selectors
from bulk.models import BulkJob
from bulk.selection import MAX_PICKED, Selection
from core.drf import ERRORS, ErrorSerializer


class SelectionSerializer(serializers.Serializer):
    things = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, max_length=MAX_PICKED, help_text="Slugs."
    )
    all = serializers.BooleanField(required=False, default=False, help_text="Every thing matching `filters`.")
    filters = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True),
        required=False,
        help_text='The cards list\'s filters, as its query parameters: {"q": "drill", "lost": "yes"}.',
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("all") and not data.get("things"):
            raise serializers.ValidationError('Give "things" (slugs), or "all": true with optional "filters".')
        if data.get("all") and data.get("things"):
            raise serializers.ValidationError('Give either "things" or "all", not both.')
        return data


class FailureSerializer(serializers.Serializer):
    thing = serializers.CharField(
        source="thing_slug", allow_null=True, help_text="null once the thing is no longer yours (sold, moved)."
    )
    name = serializers.CharField(
        source="thing_name", allow_null=True, help_text="null once the thing is no longer yours (sold, moved)."
    )
    reason = serializers.CharField()


class JobOutputSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    page = serializers.SerializerMethodField()
    failures = serializers.SerializerMethodField()
    cancel_requested = serializers.SerializerMethodField()

    class Meta:
        model = BulkJob
        fields = [
            "id",
            "action",
            "label",
            "params",
            "status",
            "total",
            "done_count",
            "failed_count",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "page",
            "failures",
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_page(self, job: BulkJob) -> str:
        return reverse("bulk-job", args=[job.pk])

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_cancel_requested(self, job: BulkJob) -> bool:
        return job.cancel_requested_at is not None

    @extend_schema_field(FailureSerializer(many=True))
    def get_failures(self, job: BulkJob) -> list[dict[str, Any]]:
        return FailureSerializer(selectors.outcome_list(job=job, ok=False), many=True).data


def _out(job: BulkJob, code: int = status.HTTP_200_OK) -> Response:
    return Response(JobOutputSerializer(job).data, status=code)


class JobCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        action = serializers.CharField(max_length=64, help_text="An action key: archive, set-attribute, mark-lost…")
        params = serializers.DictField(required=False, default=dict, help_text="The action's parameters.")
        selection = SelectionSerializer()

    @extend_schema(
        operation_id="bulk_jobs_create",
        summary="Act on many of your things",
        description=(
            "Runs a per-thing action over your selected things (your own only, never those you keep for others). "
            "A few things are done at once (201, status done); more are queued for the task worker (202): follow "
            "the job until it finishes. A thing that refuses is listed in `failures` with why; the others go on."
        ),
        request=InputSerializer,
        responses={201: JobOutputSerializer, 202: JobOutputSerializer, 400: ERRORS[400]},
        examples=[
            OpenApiExample(
                "Archive two things",
                value={"action": "archive", "selection": {"things": ["k3j2h4g5f6d7s8a9"]}},
                request_only=True,
            ),
            OpenApiExample(
                "Set an attribute on every lost thing",
                value={
                    "action": "set-attribute",
                    "params": {"name": "insured", "value": "yes"},
                    "selection": {"all": True, "filters": {"lost": "yes"}},
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        action = jobs.action_for_job(data["action"])
        params = jobs.params_clean(action, data.get("params") or {}, request.user)
        chosen = data["selection"]
        selection = Selection.from_params(chosen.get("filters") or {}, [] if chosen.get("all") else chosen["things"])
        job = jobs.job_create(owner=request.user, action=action, params=params, selection=selection)
        return _out(job, status.HTTP_201_CREATED if job.finished else status.HTTP_202_ACCEPTED)


class JobApi(APIView):
    @extend_schema(
        operation_id="bulk_jobs_get",
        summary="A bulk job's progress and failures",
        responses={200: JobOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, job_id: int) -> Response:
        return _out(selectors.job_get(viewer=request.user, job_id=job_id))


class JobCancelApi(APIView):
    @extend_schema(
        operation_id="bulk_jobs_cancel",
        summary="Cancel a bulk job",
        description="It stops before its next thing; what was done stays done, the rest is left untouched.",
        request=None,
        responses={
            200: JobOutputSerializer,
            404: ERRORS[404],
            409: OpenApiResponse(ErrorSerializer, description="The job has already finished."),
        },
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(viewer=request.user, job_id=job_id)
        return _out(jobs.job_cancel(job=job))
