"""Firmware REST API. Organisation routes (`/api/orgs/<slug>/models/<gtin>/firmware/…`) take an organisation
token or a member's session/owner token (makers.tokens.organisation_for_request, checked before the body is
read); the thing routes (`/api/things/<slug>/firmware/…`) are its owner's."""

from __future__ import annotations

import re

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, StrictInputSerializer, TextField
from core.parsers import StrictJSONParser
from firmware import selectors, services
from firmware.forms import read_manifest
from firmware.models import Release
from makers import gs1
from makers.models import ProductModel
from makers.tokens import AUTHENTICATION_CLASSES, organisation_for_request
from ssi import firmware as fw
from twins.selectors import twin_get

TAG = "firmware"


def _error(message: str, code: int, extra: dict | None = None) -> Response:
    return Response({"message": message, "extra": extra or {}}, status=code)


def _model(request: Request, slug: str, gtin: str, *, admin: bool = False) -> ProductModel:
    organisation = organisation_for_request(request, slug, admin=admin)
    try:
        gtin14 = gs1.normalise_gtin(gtin)
    except gs1.GS1Error:
        raise Http404("No such model.") from None
    model = (
        ProductModel.objects.select_related("organisation__account")
        .filter(organisation=organisation, gtin=gtin14)
        .first()
    )
    if model is None:
        raise Http404("No such model.")
    return model


class ReleaseOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = [
            "version",
            "sequence",
            "size",
            "sha256",
            "status",
            "manifest",
            "created_at",
            "published_at",
            "withdrawn_at",
            "withdrawal_reason",
        ]
        ref_name = "FirmwareRelease"


class ReleaseListApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="firmware_releases_list",
        summary="List a model's firmware releases",
        tags=[TAG],
        responses={200: ReleaseOutputSerializer(many=True), 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str, gtin: str) -> Response:
        model = _model(request, slug, gtin)
        return Response(ReleaseOutputSerializer(selectors.releases_of(model)[:200], many=True).data)

    @extend_schema(
        operation_id="firmware_releases_publish",
        summary="Publish a firmware release",
        tags=[TAG],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "payload": {"type": "string", "format": "binary"},
                    "version": {"type": "string"},
                    "sequence": {"type": "integer"},
                    "manifest": {"type": "string", "format": "binary", "description": "signed offline (optional)"},
                    "notes": {"type": "string"},
                },
                "required": ["payload"],
            }
        },
        responses={
            201: ReleaseOutputSerializer,
            400: ERRORS[400],
            404: ERRORS[404],
            409: OpenApiResponse(description="Rollback, a taken version, or a race."),
        },
        description=(
            "Multipart: `payload` (hashed as it is read, checked against the manifest before it is stored), and "
            "either `version` (the platform signs with the organisation's current key) or `manifest` (signed "
            "offline with python -m ssi.firmware sign). A refusal names its reason in `extra.reason`."
        ),
    )
    def post(self, request: Request, slug: str, gtin: str) -> Response:
        model = _model(request, slug, gtin)
        upload = request.FILES.get("payload")
        if upload is None:
            return _error("Send the firmware image as the multipart field `payload`.", 400)
        manifest = None
        if request.FILES.get("manifest") is not None:
            try:
                manifest = read_manifest(request.FILES["manifest"])
            except Exception as exc:  # forms.ValidationError: its message
                return _error(" ".join(getattr(exc, "messages", [str(exc)])), 400)
        version = request.data.get("version", "")
        raw_sequence = request.data.get("sequence")
        sequence = None
        if raw_sequence not in (None, ""):
            if not re.fullmatch(r"[0-9]{1,16}", str(raw_sequence)) or int(raw_sequence) > fw.MAX_SAFE_INTEGER:
                return _error("sequence must be a whole number from 1 to 2^53 - 1.", 400)
            sequence = int(raw_sequence)
        if manifest is None and not str(version).strip():
            return _error("Give the `version`, or a signed `manifest` that names it.", 400)
        release = services.release_publish(
            model=model,
            by=request.user,
            upload=upload,
            version=str(version)[:64],
            sequence=sequence,
            manifest=manifest,
            notes=str(request.data.get("notes", ""))[:4000],
        )
        return Response(ReleaseOutputSerializer(release).data, status=status.HTTP_201_CREATED)


class CosignApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES
    parser_classes = [StrictJSONParser]

    class InputSerializer(StrictInputSerializer):
        sequence = serializers.IntegerField(min_value=0)
        manifest = serializers.DictField(help_text="The release's manifest with your signature(s) added.")

        class Meta:
            ref_name = "FirmwareCosign"

    @extend_schema(
        operation_id="firmware_releases_cosign",
        summary="Add release officers' co-signatures",
        tags=[TAG],
        request=InputSerializer,
        responses={
            200: ReleaseOutputSerializer,
            400: ERRORS[400],
            404: ERRORS[404],
            409: OpenApiResponse(description="refused: the release was withdrawn (extra.reason `withdrawn`)"),
        },
    )
    def post(self, request: Request, slug: str, gtin: str) -> Response:
        model = _model(request, slug, gtin)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        release = selectors.release_at(model, data.validated_data["sequence"])
        if release is None:
            return _error("This model has no release with that sequence.", 404)
        release = services.release_cosign(release=release, by=request.user, signed=data.validated_data["manifest"])
        return Response(ReleaseOutputSerializer(release).data)


class WithdrawApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES
    parser_classes = [StrictJSONParser]

    class InputSerializer(StrictInputSerializer):
        sequence = serializers.IntegerField(min_value=0, max_value=fw.MAX_SAFE_INTEGER)
        reason = TextField(
            max_length=services.MAX_REASON, help_text="Why: owners of things that run the release are told it."
        )

        class Meta:
            ref_name = "FirmwareWithdraw"

    @extend_schema(
        operation_id="firmware_releases_withdraw",
        summary="Withdraw a firmware release (admins)",
        tags=[TAG],
        request=InputSerializer,
        responses={
            200: ReleaseOutputSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(description="A member who is not an admin of the organisation."),
            404: ERRORS[404],
        },
        description=(
            "The release is no longer offered, accepted (an owner's check is refused with reason `withdrawn`) or "
            "served to devices; owners of things that run it are told in their inbox, once. Its sequence stays "
            "used. Withdrawing a withdrawn release changes nothing (200); withdrawing one that awaits "
            "co-signatures cancels it."
        ),
    )
    def post(self, request: Request, slug: str, gtin: str) -> Response:
        model = _model(request, slug, gtin, admin=True)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        release = selectors.release_at(model, data.validated_data["sequence"])
        if release is None:
            return _error("This model has no release with that sequence.", 404)
        release = services.release_withdraw(release=release, by=request.user, reason=data.validated_data["reason"])
        return Response(ReleaseOutputSerializer(release).data)


class PolicySerializer(StrictInputSerializer):
    critical = serializers.BooleanField()
    threshold = serializers.IntegerField(min_value=0, max_value=20)
    officers = serializers.ListField(child=TextField(max_length=100), max_length=50)
    reattest = serializers.BooleanField(
        default=False, help_text="Serve releases signed by a rotated-out maker key re-signed by the current one."
    )

    class Meta:
        ref_name = "FirmwarePolicy"


def _policy_out(row) -> dict:
    return {"critical": row.critical, "threshold": row.threshold, "officers": row.officers, "reattest": row.reattest}


class PolicyApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="firmware_policy_get",
        summary="A model's signing policy",
        tags=[TAG],
        responses={200: PolicySerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str, gtin: str) -> Response:
        row = selectors.policy_row(_model(request, slug, gtin))
        if row is None:
            return Response({"critical": False, "threshold": 0, "officers": [], "reattest": False})
        return Response(_policy_out(row))

    @extend_schema(
        operation_id="firmware_policy_set",
        summary="Set a model's signing policy (admins)",
        tags=[TAG],
        request=PolicySerializer,
        responses={200: PolicySerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def put(self, request: Request, slug: str, gtin: str) -> Response:
        model = _model(request, slug, gtin, admin=True)
        data = PolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.policy_set(model=model, by=request.user, **data.validated_data)
        return Response(_policy_out(row))


class TwinFirmwareApi(APIView):
    @extend_schema(
        operation_id="things_firmware_status",
        summary="A thing's firmware: accepted, newest, what the device reports, recent decisions",
        tags=[TAG],
        responses={200: OpenApiResponse(description="status"), 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        return Response(selectors.twin_status(twin).as_dict())


class TwinAcceptApi(APIView):
    parser_classes = [StrictJSONParser]

    class InputSerializer(StrictInputSerializer):
        sequence = serializers.IntegerField(min_value=0)

        class Meta:
            ref_name = "FirmwareAccept"

    @extend_schema(
        operation_id="things_firmware_accept",
        summary="Check and accept a firmware release for a thing",
        tags=[TAG],
        request=InputSerializer,
        responses={
            200: OpenApiResponse(description="accepted"),
            400: ERRORS[400],
            409: OpenApiResponse(description="refused: extra.reason names the check (`withdrawn` among them)"),
            404: ERRORS[404],
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.model_of(twin)
        release = selectors.release_at(model, data.validated_data["sequence"]) if model else None
        if release is None:
            return _error("There is no such release for this thing's model.", 409)
        check = services.update_accept(twin=twin, release=release, by=request.user)
        body = {"outcome": check.outcome, "version": check.version, "sequence": check.sequence}
        if check.outcome == check.Outcome.REFUSED:
            return _error(f"Refused ({check.reason}): {check.message}", 409, {**body, "reason": check.reason})
        return Response(body)
