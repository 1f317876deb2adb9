"""`POST /hooks/<source_id>`: signed readings from a source (Standard Webhooks 1.0); and the owner's JSON API for a
thing's device keys (`/api/things/<slug>/device-keys/`: list, register, revoke; anyone else's thing is a 404).

Order: find the source (404, the one body of any unknown) → size (413) → the rest, shared with the MQTT bridge, in
ingest.receive.receive_message: verify id, timestamp and signature (400/401, SECURITY 29-30) → a retry of an
accepted message gets the first answer (SECURITY 32) → per-source rate limit (429) → map the payload (400 with the
JSON Pointer of the bad field; 413 above 1,000 readings) → store everything in one transaction (2xx only after
commit). The database being unavailable anywhere is a 503.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, Pagination, StrictBooleanField, StrictInputSerializer, TextField, paginated_response
from ingest import devices, selectors, services
from ingest.models import DeviceKey, Source
from ingest.receive import (
    MAX_BODY,
    Answer,
    database_unavailable,
    elsewhere,
    error,
    find_source,
    not_found,
    receive_message,
    too_large,
)
from ssi import webhooks
from twins.selectors import twin_get

log = logging.getLogger(__name__)


class _Error(serializers.Serializer):
    message = serializers.CharField()
    extra = serializers.DictField()

    class Meta:
        ref_name = "HookError"


class _Refused(serializers.Serializer):
    pointer = serializers.CharField(
        help_text="JSON Pointer of the field that left the reading out: its thing (not live here) or its signature "
        "(a device-signed reading stored already for the thing)."
    )
    thing = serializers.CharField(help_text="The thing's slug.")
    reason = serializers.CharField()


class _Stored(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Readings stored by this message (the first delivery's count).")
    webhook_id = serializers.CharField()
    refused = _Refused(
        many=True,
        required=False,
        help_text="Readings left out because their thing does not live here (moved to another host, or still"
        " arriving), or because the same device-signed reading is stored already for the thing (a signature is"
        " stored once); present only when there are some.",
    )


FORMAT = """Signed readings from an ingestion source, Standard Webhooks 1.0: headers `webhook-id`,
`webhook-timestamp` (Unix seconds, within 5 minutes of the server's clock) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the source's `whsec_` secret; several space-separated
signatures are allowed, any match wins).

Default payload: `{"readings": [{"thing": "<slug or external id>", "kind": "temp", "value": 21.5, "unit": "°C",
"time": "2026-11-21T10:00:00Z"}]}`, or one reading object on its own. Only `value` is required: `thing` may be
left out when the source feeds one thing; `value` is a finite number within ±(2^53 - 1); `kind` and `unit`
default to the thing's own; `time` (RFC 3339 with an
offset, or Unix seconds) defaults to the time of receipt. A source's mapping may point these fields (JSON Pointer,
RFC 6901) anywhere in the sender's own JSON.

At most 1,000 readings and 1 MiB per request (413 above). A batch is stored completely or not at all. A message
is stored once per `webhook-id`: a retry gets the first answer (200) and stores nothing new. Errors: 400 malformed
header or payload (`extra.pointer` is the JSON Pointer of the bad field), 401 missing or bad signature or a stale
timestamp, 404 unknown source, 409 a deactivated thing, 413, 429 over the source's rate limit (`Retry-After`),
503 database unavailable (`Retry-After`; retry later)."""


@extend_schema(
    summary="Receive signed readings (Standard Webhooks)",
    description=FORMAT,
    tags=["ingestion"],
    auth=[],
    parameters=[
        OpenApiParameter("webhook-id", str, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("webhook-timestamp", int, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("webhook-signature", str, OpenApiParameter.HEADER, required=True),
    ],
    request={"application/json": {"type": "object"}},
    examples=[
        OpenApiExample(
            "Batch",
            request_only=True,
            value={
                "readings": [
                    {"thing": "bedroom", "kind": "temp", "value": 21.5, "unit": "°C", "time": "2026-11-21T10:00:00Z"},
                    {"thing": "bedroom", "kind": "temp", "value": 21.7, "unit": "°C", "time": "2026-11-21T10:05:00Z"},
                ]
            },
        ),
        OpenApiExample("One reading", request_only=True, value={"thing": "bedroom", "value": 21.5}),
    ],
    responses={
        200: _Stored,
        400: OpenApiResponse(_Error, description="Malformed header or payload; `extra.pointer` names the field."),
        401: OpenApiResponse(_Error, description="Missing or bad signature, or timestamp outside ±5 minutes."),
        308: OpenApiResponse(
            _Error, description="Every thing of the source has moved to another host: send to `Location` (same path)."
        ),
        404: OpenApiResponse(_Error, description="No such source."),
        409: OpenApiResponse(
            _Error,
            description="A named thing is deactivated, the source's things are still arriving here, or every"
            " reading names a thing that moved away or is still arriving (`extra.refused`).",
        ),
        413: OpenApiResponse(_Error, description="More than 1,000 readings or 1 MiB."),
        429: OpenApiResponse(_Error, description="Over the source's rate limit; see Retry-After."),
        503: OpenApiResponse(
            _Error,
            description="Database unavailable, or a named thing is moving to another host right now (nothing of the"
            " message stored: `extra.leaving`, `extra.moving_to`); see Retry-After.",
        ),
    },
)
class HookReceiveApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []
    throttle_classes: list = []

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        # A POST goes straight to receive(): DRF's request wrapping and content negotiation would cost about as
        # much as storing a single reading, and the hook never uses them (its answers are fixed JSON). The class
        # stays for the OpenAPI schema; other methods get DRF's 405.
        if request.method == "POST":
            return receive(request, kwargs["source_id"])
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, source_id: str) -> JsonResponse:
        return receive(request._request, source_id)


def _response(answer: Answer) -> JsonResponse:
    response = JsonResponse(answer.body, status=answer.status)
    if answer.retry_after is not None:
        response["Retry-After"] = str(answer.retry_after)
    if answer.location is not None:
        response["Location"] = answer.location
    return response


def receive(request: HttpRequest, source_id: str) -> JsonResponse:
    try:
        answer = _receive(request, source_id)
        return answer if isinstance(answer, JsonResponse) else _response(answer)
    except (OperationalError, InterfaceError):
        log.warning("webhook for source %s: database unavailable", source_id)
        return _response(database_unavailable())


def _receive(request: HttpRequest, source_id: str) -> Answer | JsonResponse:
    """The HTTP part: the source named by the URL (404), whose things are here (308/409: ingest.receive.elsewhere),
    and a body of at most 1 MiB (413); the rest is ingest.receive.receive_message, shared with the MQTT bridge."""
    source = find_source(source_id, request.headers.get(webhooks.ID_HEADER), live=True)
    if source is None:
        return not_found()
    if (moved := elsewhere(source, request.get_full_path())) is not None:
        return moved
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return error(400, "The Content-Length header is not a number.")
    if declared > MAX_BODY:
        return too_large()
    try:
        body = request.body
    except RequestDataTooBig:
        return too_large()
    return receive_message(source=source, headers=request.headers, body=body, now=time.time())


hook_receive = csrf_exempt(HookReceiveApi.as_view())


# --- Device keys ----------------------------------------------------------------------------------------------


class DeviceKeyOutputSerializer(serializers.ModelSerializer):
    """A registered device key. Only the public key is ever known to Thingstead."""

    active = serializers.SerializerMethodField(help_text="False once revoked: it verifies nothing new.")

    class Meta:
        model = DeviceKey
        ref_name = "DeviceKey"
        fields = ("id", "public_key", "label", "active", "created_at", "revoked_at")
        read_only_fields = fields

    def get_active(self, key: DeviceKey) -> bool:
        return key.revoked_at is None


class DeviceKeyListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="things_device_keys_list",
        summary="List a thing's device keys",
        tags=["ingestion"],
        responses={200: DeviceKeyOutputSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
        description="Every device key of one thing, revoked ones included (see `active`), newest first.",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.device_keys(twin=twin),
            serializer_class=DeviceKeyOutputSerializer,
        )


class DeviceKeyRegisterApi(APIView):
    class InputSerializer(StrictInputSerializer):
        public_key = TextField(max_length=200, help_text="The device's Ed25519 public key as a Multikey, z6Mk….")
        label = TextField(max_length=120, allow_blank=True, required=False, default="", help_text="Your own name.")

        class Meta:
            ref_name = "DeviceKeyRegister"

    @extend_schema(
        operation_id="things_device_keys_create",
        summary="Register a device key",
        tags=["ingestion"],
        request=InputSerializer,
        responses={
            201: DeviceKeyOutputSerializer,
            400: OpenApiResponse(
                ERRORS[400].response,
                description=(
                    "Not an Ed25519 Multikey, already registered on this thing, registered on another thing (one"
                    " device key per thing: generate a new one), or the thing has 20 active keys."
                ),
            ),
            404: ERRORS[404],
        },
        description=(
            "From now on readings of this thing signed by this key are stored device-signed (see the hook's"
            " description for what a device signs)."
        ),
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        serializer = DeviceKeyRegisterApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = devices.device_key_add(twin=twin, **serializer.validated_data)
        return Response(DeviceKeyOutputSerializer(key).data, status=status.HTTP_201_CREATED)


class DeviceKeysApi(DeviceKeyListApi, DeviceKeyRegisterApi):
    # GET lists a thing's device keys, POST registers one.
    pass


class DeviceKeyRevokeApi(APIView):
    @extend_schema(
        operation_id="things_device_keys_revoke",
        summary="Revoke a device key",
        tags=["ingestion"],
        request=None,
        responses={200: DeviceKeyOutputSerializer, 404: ERRORS[404]},
        description=(
            "The key verifies nothing from now on; readings it signed before keep their provenance. Revoking"
            " twice is fine."
        ),
    )
    def post(self, request: Request, slug: str, key_id: int) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        key = devices.device_key_revoke(key=selectors.device_key_get(twin=twin, key_id=key_id))
        return Response(DeviceKeyOutputSerializer(key).data)


# --- Sources --------------------------------------------------------------------------------------------------
# The Sources pages' operations (ingest.views), over the same selectors and services. A secret is in exactly one
# answer, the one to the request that made it (create or rotate), sent `Cache-Control: no-store`; it is kept only
# sealed, so no later request can show it again.


class SourceMappingSerializer(StrictInputSerializer):
    """JSON Pointers (RFC 6901) into the sender's payload; a field left out reads its default."""

    readings = TextField(max_length=300, required=False, help_text="Where the list of readings is. Default /readings.")
    thing = TextField(max_length=300, required=False, help_text="Per reading: the thing's slug or external id.")
    kind = TextField(max_length=300, required=False, help_text="Per reading. Default /kind.")
    value = TextField(max_length=300, required=False, help_text="Per reading. Default /value.")
    unit = TextField(max_length=300, required=False, help_text="Per reading. Default /unit.")
    time = TextField(max_length=300, required=False, help_text="Per reading: RFC 3339 or Unix seconds.")
    signature = TextField(max_length=300, required=False, help_text="Per reading: a device's Ed25519 signature.")
    key = TextField(max_length=300, required=False, help_text="Per reading: the signing device key (z6Mk…).")

    class Meta:
        ref_name = "SourceMapping"


class SourceLinkOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The link's id (to unlink).")
    thing = serializers.CharField(source="twin.slug", help_text="The thing's public id.")
    external_id = serializers.CharField(help_text="The name the sender uses for the thing (empty: its id).")

    class Meta:
        ref_name = "SourceLink"


class SourceOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The source's public id (128 random bits).")
    name = serializers.CharField()
    hook_url = serializers.SerializerMethodField(help_text="Where the sender POSTs signed readings.")
    mqtt_topic = serializers.SerializerMethodField(help_text="Or where it publishes them over MQTT.")
    mapping = serializers.DictField(
        child=serializers.CharField(), help_text="Only the pointers that differ from the default."
    )
    rate_limit = serializers.CharField(help_text="requests/seconds")
    things = serializers.SerializerMethodField(help_text="Things that take readings from this source.")
    previous_secret_valid_until = serializers.SerializerMethodField(
        help_text="After a rotation with an overlap: until when the previous secret is still accepted."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Source"

    def get_hook_url(self, source: Source) -> str:
        return self.context["request"].build_absolute_uri(reverse("hook", args=[source.public_id]))

    def get_mqtt_topic(self, source: Source) -> str:
        return f"thingstead/{source.public_id}/readings"

    @extend_schema_field(SourceLinkOutputSerializer(many=True))
    def get_things(self, source: Source) -> list[dict]:
        return SourceLinkOutputSerializer(selectors.source_links(source=source), many=True).data

    def get_previous_secret_valid_until(self, source: Source) -> datetime | None:
        return source.previous_valid_until if source.in_overlap else None


class SourceSecretOutputSerializer(SourceOutputSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The Standard Webhooks secret (whsec_…). Shown in this answer only: store it now."
    )

    class Meta:
        ref_name = "SourceWithSecret"

    def get_secret(self, source: Source) -> str:
        return self.context["secret"]


def _secret_response(request: Request, source: Source, secret: str, status_code: int) -> Response:
    data = SourceSecretOutputSerializer(source, context={"request": request, "secret": secret}).data
    response = Response(data, status=status_code)
    # The answer holds a secret: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


MAX_OVERLAP_HOURS = int(services.MAX_OVERLAP.total_seconds() // 3600)
SOURCE_404 = OpenApiResponse(ERRORS[404].response, description="No such source among yours.")


class SourceListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="sources_list",
        summary="List your ingestion sources",
        tags=["ingestion"],
        responses={200: SourceOutputSerializer(many=True), 400: ERRORS[400]},
        description="Your webhook/MQTT sources, by name. Secrets are never listed.",
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.source_list(viewer=request.user),
            serializer_class=SourceOutputSerializer,
        )


class SourceCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        name = TextField(max_length=120, help_text="e.g. “Acme cloud” or “Garden gateway”.")
        mapping = SourceMappingSerializer(required=False)
        rate_limit = TextField(max_length=32, required=False, help_text="requests/seconds, like 600/60.")

        class Meta:
            ref_name = "SourceCreate"

    @extend_schema(
        operation_id="sources_create",
        summary="Create an ingestion source",
        tags=["ingestion"],
        request=InputSerializer,
        responses={201: SourceSecretOutputSerializer, 400: ERRORS[400]},
        description=(
            "A new source and its secret. The secret is in this answer only (it is kept sealed): give it to the"
            " sender, then link things to the source on its page."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = SourceCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source, secret = services.source_create(owner=request.user, **serializer.validated_data)
        return _secret_response(request, source, secret, status.HTTP_201_CREATED)


class SourcesApi(SourceListApi, SourceCreateApi):
    # GET lists the owner's sources, POST creates one.
    pass


class SourceDetailApi(APIView):
    @extend_schema(
        operation_id="sources_retrieve",
        summary="Get an ingestion source",
        tags=["ingestion"],
        responses={200: SourceOutputSerializer, 404: SOURCE_404},
    )
    def get(self, request: Request, source_id: str) -> Response:
        source = selectors.source_get(viewer=request.user, public_id=source_id)
        return Response(SourceOutputSerializer(source, context={"request": request}).data)


class SourceUpdateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        name = TextField(max_length=120, required=False)
        mapping = SourceMappingSerializer(required=False, help_text="Replaces the whole mapping.")
        rate_limit = TextField(max_length=32, required=False, help_text="requests/seconds, like 600/60.")

        class Meta:
            ref_name = "SourceUpdate"

    @extend_schema(
        operation_id="sources_partial_update",
        summary="Change an ingestion source",
        tags=["ingestion"],
        request=InputSerializer,
        responses={200: SourceOutputSerializer, 400: ERRORS[400], 404: SOURCE_404},
        description="Name, mapping and rate limit; a field left out keeps its value.",
    )
    def patch(self, request: Request, source_id: str) -> Response:
        source = selectors.source_get(viewer=request.user, public_id=source_id)
        serializer = SourceUpdateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = services.source_update(
            source=source,
            name=data.get("name", source.name),
            mapping=data.get("mapping", source.mapping),
            rate_limit=data.get("rate_limit", source.rate_limit),
        )
        return Response(SourceOutputSerializer(source, context={"request": request}).data)


class SourceDeleteApi(APIView):
    @extend_schema(
        operation_id="sources_destroy",
        summary="Delete an ingestion source",
        tags=["ingestion"],
        responses={204: None, 404: SOURCE_404},
        description="Its URL and topic accept nothing from now on; the readings it sent stay.",
    )
    def delete(self, request: Request, source_id: str) -> Response:
        source = selectors.source_get(viewer=request.user, public_id=source_id)
        services.source_delete(source=source)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceApi(SourceDetailApi, SourceUpdateApi, SourceDeleteApi):
    # GET shows a source, PATCH changes it, DELETE removes it.
    pass


class SourceRotateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        overlap_hours = serializers.IntegerField(
            min_value=0,
            max_value=MAX_OVERLAP_HOURS,
            default=24,
            help_text="How long the current secret stays accepted beside the new one (0: it ends now).",
        )

        class Meta:
            ref_name = "SourceRotate"

    @extend_schema(
        operation_id="sources_rotate",
        summary="Rotate a source's secret",
        tags=["ingestion"],
        request=InputSerializer,
        responses={200: SourceSecretOutputSerializer, 400: ERRORS[400], 404: SOURCE_404},
        description=(
            "A new secret, in this answer only. The current one stays accepted for `overlap_hours` so the sender"
            " can switch without losing messages; any older one ends now."
        ),
    )
    def post(self, request: Request, source_id: str) -> Response:
        source = selectors.source_get(viewer=request.user, public_id=source_id)
        serializer = SourceRotateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        overlap = timedelta(hours=serializer.validated_data["overlap_hours"])
        source, secret = services.source_rotate_secret(source=source, overlap=overlap)
        return _secret_response(request, source, secret, status.HTTP_200_OK)


class SourceEndOverlapApi(APIView):
    @extend_schema(
        operation_id="sources_end_overlap",
        summary="Stop accepting a source's previous secret",
        tags=["ingestion"],
        request=None,
        responses={200: SourceOutputSerializer, 404: SOURCE_404},
    )
    def post(self, request: Request, source_id: str) -> Response:
        source = selectors.source_get(viewer=request.user, public_id=source_id)
        source = services.source_end_overlap(source=source)
        return Response(SourceOutputSerializer(source, context={"request": request}).data)


class PreviewReadingSerializer(serializers.Serializer):
    thing = serializers.CharField(help_text="The thing's public id.")
    thing_name = serializers.CharField()
    kind = serializers.CharField()
    value = serializers.FloatField()
    unit = serializers.CharField()
    time = serializers.DateTimeField()
    device_signed = serializers.BooleanField(help_text="A device's signature was given and verifies.")

    class Meta:
        ref_name = "SourcePreviewReading"


class SourcePreviewApi(APIView):
    class InputSerializer(StrictInputSerializer):
        mapping = SourceMappingSerializer(required=False, help_text="Left out: the source's own mapping.")
        sample = serializers.JSONField(help_text="A payload as the sender would POST it to the hook.")

        class Meta:
            ref_name = "SourcePreview"

    class OutputSerializer(serializers.Serializer):
        readings = PreviewReadingSerializer(many=True)

        class Meta:
            ref_name = "SourcePreviewResult"

    @extend_schema(
        operation_id="sources_preview",
        summary="Preview what a payload would store",
        tags=["ingestion"],
        request=InputSerializer,
        responses={200: OutputSerializer, 400: ERRORS[400], 404: SOURCE_404},
        description=(
            "Runs `sample` through `mapping` (or the source's) as the hook would and stores nothing: the readings it"
            " would make, or a 400 whose `extra.pointer` names the first bad field of the sample (as on the page)."
        ),
    )
    def post(self, request: Request, source_id: str) -> Response:
        source = selectors.source_get(viewer=request.user, public_id=source_id)
        serializer = SourcePreviewApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        mapping = services.validate_mapping(data["mapping"]) if "mapping" in data else source.mapping
        preview = services.mapping_preview(source=source, mapping=mapping, sample=data["sample"])
        if preview.error:
            return Response(
                {"message": preview.error, "extra": {"pointer": preview.pointer}}, status=status.HTTP_400_BAD_REQUEST
            )
        readings = [
            {
                "thing": twin.slug,
                "thing_name": twin.name,
                "kind": reading.kind,
                "value": reading.value,
                "unit": reading.unit,
                "time": reading.time,
                "device_signed": reading.device_signed,
            }
            for twin, reading in preview.rows
        ]
        return Response(SourcePreviewApi.OutputSerializer({"readings": readings}).data)


class SourceLinkApi(APIView):
    class InputSerializer(StrictInputSerializer):
        thing = TextField(max_length=64, help_text="The public id of one of your things.")
        external_id = TextField(
            max_length=200, required=False, default="", allow_blank=True, help_text="The sender's name for it."
        )

        class Meta:
            ref_name = "SourceLinkCreate"

    @extend_schema(
        operation_id="sources_things_create",
        summary="Link a thing to a source",
        tags=["ingestion"],
        request=InputSerializer,
        responses={201: SourceLinkOutputSerializer, 400: ERRORS[400], 404: SOURCE_404},
        description="From now on the source's readings naming the thing (by id or `external_id`) are stored.",
    )
    def post(self, request: Request, source_id: str) -> Response:
        source = selectors.source_get(viewer=request.user, public_id=source_id)
        serializer = SourceLinkApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            twin = twin_get(viewer=request.user, slug=data["thing"])
        except Http404:
            raise serializers.ValidationError({"thing": ["No such thing among yours."]}) from None
        link = services.source_link_thing(source=source, twin=twin, external_id=data["external_id"])
        return Response(SourceLinkOutputSerializer(link).data, status=status.HTTP_201_CREATED)


class SourceUnlinkApi(APIView):
    @extend_schema(
        operation_id="sources_things_destroy",
        summary="Unlink a thing from a source",
        tags=["ingestion"],
        responses={204: None, 404: OpenApiResponse(ERRORS[404].response, description="No such source or link.")},
    )
    def delete(self, request: Request, source_id: str, link_id: int) -> Response:
        source = selectors.source_get(viewer=request.user, public_id=source_id)
        services.source_unlink_thing(link=selectors.link_get(source=source, link_id=link_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeviceSignatureRequiredApi(APIView):
    class InputSerializer(StrictInputSerializer):
        required = StrictBooleanField(help_text="true: readings of this thing must carry a device signature.")

        class Meta:
            ref_name = "DeviceSignatureRequired"

    class OutputSerializer(serializers.Serializer):
        required = serializers.BooleanField(source="require_device_signature")

        class Meta:
            ref_name = "DeviceSignatureRequirement"

    @extend_schema(
        operation_id="things_device_signature_required",
        summary="Require device signatures (or not)",
        tags=["ingestion"],
        request=InputSerializer,
        responses={200: OutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
        description=(
            "As on the device keys page: while required, a reading of this thing without a valid signature by one"
            " of its active device keys is refused."
        ),
    )
    def put(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        serializer = DeviceSignatureRequiredApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        twin = devices.twin_set_require_device_signature(twin=twin, required=serializer.validated_data["required"])
        return Response(DeviceSignatureRequiredApi.OutputSerializer(twin).data)
