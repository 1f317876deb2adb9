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

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, Pagination, StrictInputSerializer, TextField, paginated_response
from ingest import devices, selectors
from ingest.models import DeviceKey
from ingest.receive import (
    MAX_BODY,
    Answer,
    database_unavailable,
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


class _Stored(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Readings stored by this message (the first delivery's count).")
    webhook_id = serializers.CharField()


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
        404: OpenApiResponse(_Error, description="No such source."),
        409: OpenApiResponse(_Error, description="A named thing is deactivated."),
        413: OpenApiResponse(_Error, description="More than 1,000 readings or 1 MiB."),
        429: OpenApiResponse(_Error, description="Over the source's rate limit; see Retry-After."),
        503: OpenApiResponse(_Error, description="Database unavailable; see Retry-After."),
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
    return response


def receive(request: HttpRequest, source_id: str) -> JsonResponse:
    try:
        return _response(_receive(request, source_id))
    except (OperationalError, InterfaceError):
        log.warning("webhook for source %s: database unavailable", source_id)
        return _response(database_unavailable())


def _receive(request: HttpRequest, source_id: str) -> Answer:
    """The HTTP part: the source named by the URL (404) and a body of at most 1 MiB (413); the rest is
    ingest.receive.receive_message, shared with the MQTT bridge."""
    source = find_source(source_id, request.headers.get(webhooks.ID_HEADER))
    if source is None:
        return not_found()
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
                description="Not an Ed25519 Multikey, already registered, or the thing has 20 active keys.",
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
