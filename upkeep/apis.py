"""REST API of upkeep: a thing's purchase, its files and its maintenance schedules.

Access as on the pages (upkeep.views): purchase and files are the owner's; the schedules list needs VIEW and
"done" needs JOURNAL_WRITE (a keeper may do the maintenance); the rest is the owner's. twin_get runs before the
body is read, so a stranger learns nothing from validation errors. A service's ValidationError becomes the one
400 shape (core.exceptions).
"""

from __future__ import annotations

import re

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, StrictInputSerializer, TextField
from twins import access, selectors
from upkeep import attachments, maintenance, warranty
from upkeep.models import Attachment, Purchase, Schedule

# --- Purchase -----------------------------------------------------------------------------------------------


class PurchaseOutputSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True, coerce_to_string=True)

    class Meta:
        model = Purchase
        ref_name = "Purchase"
        fields = ("purchased_on", "price", "currency", "bought_from", "warranty_ends")
        read_only_fields = fields


PRICE_PATTERN = r"^\d+(\.\d{1,2})?$"


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "pattern": PRICE_PATTERN}, {"type": "number", "minimum": 0}],
        "nullable": True,
        "example": "249.90",
    }
)
class PriceField(serializers.Field):
    """A decimal as text ("249.90") or a JSON number, handed on as text: the service (upkeep.warranty) checks it
    as a Decimal (zero or more, at most two decimals) and words its refusals."""

    default_error_messages = {"invalid": 'A price is a number of zero or more, like "249.90".'}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        if isinstance(data, str) and not re.fullmatch(r"\d+(\.\d+)?", data):
            self.fail("invalid")
        return str(data)

    def to_representation(self, value):
        return None if value is None else str(value)


EMPTY_PURCHASE = {"purchased_on": None, "price": None, "currency": "", "bought_from": "", "warranty_ends": None}


class PurchaseApi(APIView):
    class InputSerializer(StrictInputSerializer):
        purchased_on = serializers.DateField(required=False, allow_null=True)
        price = PriceField(
            required=False,
            allow_null=True,
            help_text='A decimal, best as text ("249.90"); at most two decimals; needs `currency`.',
        )
        # The service checks it against ISO 4217 and says so; the length cap here only bounds the input.
        currency = TextField(required=False, allow_blank=True, max_length=40, help_text="ISO 4217, like EUR.")
        bought_from = TextField(required=False, allow_blank=True, max_length=200)
        warranty_ends = serializers.DateField(required=False, allow_null=True)

        class Meta:
            ref_name = "PurchaseUpdate"

    @extend_schema(
        operation_id="things_purchase_retrieve",
        summary="Show the purchase and warranty",
        responses={200: PurchaseOutputSerializer, 404: ERRORS[404]},
        description="Empty fields when nothing is recorded. The owner's only.",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        purchase = warranty.purchase_of(twin)
        return Response(PurchaseOutputSerializer(purchase).data if purchase else EMPTY_PURCHASE)

    @extend_schema(
        operation_id="things_purchase_update",
        summary="Set the purchase and warranty",
        request=InputSerializer,
        responses={200: PurchaseOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
        description="Replaces what is recorded: a field left out is emptied. A price needs its currency.",
    )
    def put(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        serializer = PurchaseApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        purchase = warranty.purchase_set(twin=twin, **serializer.validated_data)
        return Response(PurchaseOutputSerializer(purchase).data)

    @extend_schema(
        operation_id="things_purchase_destroy", summary="Forget the purchase", responses={204: None, 404: ERRORS[404]}
    )
    def delete(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        warranty.purchase_clear(twin=twin)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Attachments --------------------------------------------------------------------------------------------


class AttachmentOutputSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        ref_name = "Attachment"
        fields = ("id", "kind", "title", "filename", "content_type", "size", "created_at", "download_url")
        read_only_fields = fields

    def get_download_url(self, attachment: Attachment) -> str:
        return reverse("api-upkeep-attachment-file", args=[attachment.twin.slug, attachment.pk])


class AttachmentListApi(APIView):
    @extend_schema(
        operation_id="things_attachments_list",
        summary="List receipts and manuals",
        responses={200: AttachmentOutputSerializer(many=True), 404: ERRORS[404]},
        description="Newest first (at most 100 per thing).",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        rows = attachments.attachment_list(twin=twin).select_related("twin")
        return Response(AttachmentOutputSerializer(rows, many=True).data)


class AttachmentCreateApi(APIView):
    parser_classes = [MultiPartParser]

    class InputSerializer(StrictInputSerializer):
        file = serializers.FileField(help_text="PDF, JPEG, PNG or WebP (checked by content), up to 8 MB.")
        kind = serializers.ChoiceField(choices=Attachment.Kind.choices, required=False)
        title = TextField(required=False, allow_blank=True, max_length=120)

        class Meta:
            ref_name = "AttachmentCreate"

    @extend_schema(
        operation_id="things_attachments_create",
        summary="Attach a receipt or manual",
        request={"multipart/form-data": InputSerializer},
        responses={201: AttachmentOutputSerializer, 400: ERRORS[400], 404: ERRORS[404], 415: ERRORS[415]},
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        serializer = AttachmentCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        attachment = attachments.attachment_add(
            twin=twin, upload=data["file"], kind=data.get("kind", Attachment.Kind.RECEIPT), title=data.get("title", "")
        )
        return Response(AttachmentOutputSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentsApi(AttachmentListApi, AttachmentCreateApi):
    # GET lists the files, POST attaches one.
    pass


class AttachmentApi(APIView):
    @extend_schema(
        operation_id="things_attachments_retrieve",
        summary="Show a file's details",
        responses={200: AttachmentOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str, attachment_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        return Response(
            AttachmentOutputSerializer(attachments.attachment_get(twin=twin, attachment_id=attachment_id)).data
        )

    @extend_schema(
        operation_id="things_attachments_destroy", summary="Delete a file", responses={204: None, 404: ERRORS[404]}
    )
    def delete(self, request: Request, slug: str, attachment_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        attachments.attachment_delete(attachment=attachments.attachment_get(twin=twin, attachment_id=attachment_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentFileApi(APIView):
    @extend_schema(
        operation_id="things_attachments_download",
        summary="Download a file",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, as an attachment, with its checked content type."
            ),
            404: ERRORS[404],
        },
    )
    def get(self, request: Request, slug: str, attachment_id: int):
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        return attachments.attachment_response(attachments.attachment_get(twin=twin, attachment_id=attachment_id))


# --- Maintenance --------------------------------------------------------------------------------------------


class ScheduleOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Schedule
        ref_name = "MaintenanceSchedule"
        fields = ("id", "name", "every", "unit", "last_done", "next_due", "created_at")
        read_only_fields = fields


class ScheduleListApi(APIView):
    @extend_schema(
        operation_id="things_maintenance_list",
        summary="List maintenance schedules",
        responses={200: ScheduleOutputSerializer(many=True), 404: ERRORS[404]},
        description="Soonest due first. Open to keepers who may open the thing.",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.VIEW)
        return Response(ScheduleOutputSerializer(maintenance.schedule_list(twin=twin), many=True).data)


class ScheduleCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        name = TextField(max_length=120)
        every = serializers.IntegerField(min_value=1, max_value=maintenance.MAX_EVERY)
        unit = serializers.ChoiceField(choices=Schedule.Unit.choices, required=False)
        last_done = serializers.DateField(required=False, allow_null=True)
        next_due = serializers.DateField(
            required=False, allow_null=True, help_text="Defaults to one interval after last_done (or today)."
        )

        class Meta:
            ref_name = "MaintenanceScheduleCreate"

    @extend_schema(
        operation_id="things_maintenance_create",
        summary="Add a maintenance schedule",
        request=InputSerializer,
        responses={201: ScheduleOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        serializer = ScheduleCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = maintenance.schedule_create(twin=twin, **serializer.validated_data)
        return Response(ScheduleOutputSerializer(schedule).data, status=status.HTTP_201_CREATED)


class SchedulesApi(ScheduleListApi, ScheduleCreateApi):
    # GET lists the schedules, POST adds one.
    pass


class ScheduleApi(APIView):
    class InputSerializer(StrictInputSerializer):
        name = TextField(max_length=120, required=False)
        every = serializers.IntegerField(min_value=1, max_value=maintenance.MAX_EVERY, required=False)
        unit = serializers.ChoiceField(choices=Schedule.Unit.choices, required=False)
        next_due = serializers.DateField(required=False)

        class Meta:
            ref_name = "MaintenanceScheduleUpdate"

    @extend_schema(
        operation_id="things_maintenance_retrieve",
        summary="Show a maintenance schedule",
        responses={200: ScheduleOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str, schedule_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.VIEW)
        return Response(ScheduleOutputSerializer(maintenance.schedule_get(twin=twin, schedule_id=schedule_id)).data)

    @extend_schema(
        operation_id="things_maintenance_partial_update",
        summary="Change a maintenance schedule",
        request=InputSerializer,
        responses={200: ScheduleOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def patch(self, request: Request, slug: str, schedule_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        schedule = maintenance.schedule_get(twin=twin, schedule_id=schedule_id)
        serializer = ScheduleApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = maintenance.schedule_update(schedule=schedule, **serializer.validated_data)
        return Response(ScheduleOutputSerializer(schedule).data)

    @extend_schema(
        operation_id="things_maintenance_destroy",
        summary="Delete a maintenance schedule",
        responses={204: None, 404: ERRORS[404]},
    )
    def delete(self, request: Request, slug: str, schedule_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        maintenance.schedule_delete(schedule=maintenance.schedule_get(twin=twin, schedule_id=schedule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScheduleDoneApi(APIView):
    class InputSerializer(StrictInputSerializer):
        on = serializers.DateField(required=False, allow_null=True, help_text="The day it was done; today if left out.")
        note = TextField(required=False, allow_blank=True, max_length=2000)

        class Meta:
            ref_name = "MaintenanceDone"

    @extend_schema(
        operation_id="things_maintenance_done",
        summary="Mark maintenance done",
        request=InputSerializer,
        responses={200: ScheduleOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
        description="Logs a journal entry on the thing and moves the next due date. The same day twice records it "
        "once. Open to keepers who may write the journal.",
    )
    def post(self, request: Request, slug: str, schedule_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.JOURNAL_WRITE)
        schedule = maintenance.schedule_get(twin=twin, schedule_id=schedule_id)
        serializer = ScheduleDoneApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = maintenance.schedule_done(
            schedule=schedule,
            on=serializer.validated_data.get("on"),
            note=serializer.validated_data.get("note", ""),
            by=request.user,
        )
        return Response(ScheduleOutputSerializer(schedule).data)
