"""REST API of product models, production and claims.

Organisation routes (`/api/orgs/<slug>/…`) take an organisation token (`Authorization: Bearer org_…`) or a
member's session or owner token: makers.tokens.organisation_for_request is the one check, and it runs before the
body is read (a non-member gets a 404 and learns nothing from validation). `POST /api/claims/` is any signed-in
account's.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, StrictInputSerializer, TextField
from core.ratelimit import client_id
from makers import gs1
from makers.claims import ClaimRefused, claim, produced_for_reference
from makers.models import ProductModel
from makers.product_views import production_csv, production_rows
from makers.production import MAX_SERIALS, ProductionRefused, model_create, model_update, produce
from makers.tokens import AUTHENTICATION_CLASSES, organisation_for_request
from twins.models import Twin


class CSVRenderer(renderers.BaseRenderer):
    """`Accept: text/csv` on the production API: the label printer's file. Errors come as their message."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, str):
            return data.encode("utf-8")
        if isinstance(data, dict) and "message" in data:
            return (str(data["message"]) + "\n").encode("utf-8")
        return b""


def _error(message: str, *, status_code: int, extra: dict | None = None, retry_after: int | None = None) -> Response:
    response = Response({"message": message, "extra": extra or {}}, status=status_code)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _model_of(organisation, gtin: str) -> ProductModel:
    try:
        gtin14 = gs1.normalise_gtin(gtin)
    except gs1.GS1Error:
        raise Http404("No such model.") from None
    model = ProductModel.objects.filter(organisation=organisation, gtin=gtin14).select_related("organisation").first()
    if model is None:
        raise Http404("No such model.")
    return model


class ReadingKindSerializer(serializers.Serializer):
    kind = TextField(max_length=40)
    unit = TextField(max_length=20, required=False, allow_blank=True)

    class Meta:
        ref_name = "ReadingKind"


class ProductModelOutputSerializer(serializers.ModelSerializer):
    reading_kinds = ReadingKindSerializer(many=True)
    links = serializers.DictField(child=serializers.CharField(), help_text='{"gs1:instructions": "https://…"}')
    digital_link = serializers.SerializerMethodField()

    class Meta:
        model = ProductModel
        fields = ["name", "gtin", "icon", "description", "reading_kinds", "links", "digital_link", "created_at"]
        ref_name = "ProductModel"

    def get_digital_link(self, model: ProductModel) -> str:
        from django.conf import settings

        return settings.SITE_URL + gs1.build_path(model.gtin)


class ProductModelInputSerializer(StrictInputSerializer):
    name = TextField(max_length=120, required=False)
    gtin = TextField(max_length=14, required=False, help_text="8, 12, 13 or 14 digits; kept as GTIN-14.")
    icon = serializers.ChoiceField(choices=Twin._meta.get_field("icon").choices, required=False)  # as a twin's
    description = TextField(max_length=4000, required=False, allow_blank=True)
    reading_kinds = ReadingKindSerializer(many=True, required=False)
    links = serializers.DictField(child=TextField(max_length=500), required=False)

    class Meta:
        ref_name = "ProductModelInput"


# GET lists, POST creates.
class ProductModelListApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES

    @extend_schema(
        operation_id="org_models_list", responses={200: ProductModelOutputSerializer(many=True), 404: ERRORS[404]}
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug)
        models = organisation.product_models.all().order_by("name", "id")
        return Response(ProductModelOutputSerializer(models, many=True).data)

    @extend_schema(
        operation_id="org_models_create",
        request=ProductModelInputSerializer,
        responses={201: ProductModelOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug)
        serializer = ProductModelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = model_create(organisation=organisation, **serializer.validated_data)
        return Response(ProductModelOutputSerializer(model).data, status=status.HTTP_201_CREATED)


# GET reads, PATCH changes.
class ProductModelApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES

    @extend_schema(operation_id="org_model_get", responses={200: ProductModelOutputSerializer, 404: ERRORS[404]})
    def get(self, request: Request, slug: str, gtin: str) -> Response:
        model = _model_of(organisation_for_request(request, slug), gtin)
        return Response(ProductModelOutputSerializer(model).data)

    @extend_schema(
        operation_id="org_model_update",
        request=ProductModelInputSerializer,
        responses={200: ProductModelOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def patch(self, request: Request, slug: str, gtin: str) -> Response:
        model = _model_of(organisation_for_request(request, slug), gtin)
        serializer = ProductModelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            model = model_update(model=model, **serializer.validated_data)
        except DjangoValidationError:
            model.refresh_from_db()
            raise
        return Response(ProductModelOutputSerializer(model).data)


class ProductionApi(APIView):
    """Make one twin per serial (up to 10,000), each with a tag and a claim code. The claim codes are in this
    answer and nowhere else. `Accept: text/csv` answers the label printer's CSV instead of JSON."""

    authentication_classes = AUTHENTICATION_CLASSES
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    class InputSerializer(StrictInputSerializer):
        serials = serializers.ListField(
            child=TextField(max_length=200, allow_blank=True, trim_whitespace=False),
            allow_empty=False,
            max_length=MAX_SERIALS,
            help_text="GS1 AI 21 serial numbers: 1–20 characters of letters, digits and !\"%&'()*+,-./:;<=>?_",
        )

        class Meta:
            ref_name = "ProductionInput"

    class ThingSerializer(serializers.Serializer):
        serial = serializers.CharField()
        claim_code = serializers.CharField(help_text="Print it inside the box; shown only in this answer.")
        digital_link = serializers.CharField(help_text="SITE_URL/01/<gtin14>/21/<serial>")
        tag_url = serializers.CharField()
        twin = serializers.CharField(help_text="The twin's public id.")
        did = serializers.CharField()

        class Meta:
            ref_name = "ProducedThing"

    class OutputSerializer(serializers.Serializer):
        count = serializers.IntegerField()
        things = serializers.ListField(child=serializers.DictField())

        class Meta:
            ref_name = "Production"

    @extend_schema(
        operation_id="org_model_produce",
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: OpenApiResponse(ERRORS[400].response, description="A bad or duplicate serial; nothing was made."),
            404: ERRORS[404],
            409: OpenApiResponse(ERRORS[400].response, description="Another batch took a serial at the same time."),
        },
        examples=[OpenApiExample("Two serials", request_only=True, value={"serials": ["SN0001", "SN0002"]})],
    )
    def post(self, request: Request, slug: str, gtin: str) -> Response:
        organisation = organisation_for_request(request, slug)
        model = _model_of(organisation, gtin)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        by = request.user if request.user.pk != organisation.account_id else None
        try:
            rows = produce(model=model, serials=serializer.validated_data["serials"], by=by)
        except ProductionRefused as exc:
            return _error(exc.message, status_code=exc.status, extra=exc.extra)
        if getattr(request.accepted_renderer, "format", "") == "csv":
            response = Response(production_csv(rows), status=status.HTTP_201_CREATED)
            response["Content-Disposition"] = f'attachment; filename="production-{model.gtin}.csv"'
        else:
            response = Response({"count": len(rows), "things": production_rows(rows)}, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "private, no-store"
        return response


class ClaimApi(APIView):
    """Claim a produced thing with the code from its box: the twin is transferred to you (its DID log rotates to
    your key). Wrong codes are limited per account and per thing (429 with Retry-After)."""

    class InputSerializer(StrictInputSerializer):
        thing = TextField(max_length=400, help_text="The twin's public id, or its GS1 Digital Link URL.")
        code = TextField(max_length=64)

        class Meta:
            ref_name = "ClaimInput"

    class OutputSerializer(serializers.Serializer):
        twin = serializers.CharField()
        did = serializers.CharField()
        serial = serializers.CharField()
        model = serializers.CharField()

        class Meta:
            ref_name = "Claim"

    @extend_schema(
        operation_id="claims_create",
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: OpenApiResponse(ERRORS[400].response, description="A wrong code, or a malformed GS1 link."),
            404: ERRORS[404],
            409: OpenApiResponse(ERRORS[400].response, description="Already claimed."),
            429: OpenApiResponse(ERRORS[400].response, description="Too many wrong codes; see Retry-After."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            produced = produced_for_reference(serializer.validated_data["thing"])
        except gs1.GS1Error as exc:
            return _error(str(exc), status_code=400)
        if produced is None:
            raise Http404("No such thing.")
        try:
            produced = claim(
                twin=produced.twin,
                buyer=request.user,
                code=serializer.validated_data["code"],
                client=client_id(request),
            )
        except ClaimRefused as exc:
            return _error(exc.message, status_code=exc.status, retry_after=exc.retry_after)
        twin = produced.twin
        body = {"twin": twin.slug, "did": twin.did, "serial": produced.serial, "model": produced.model.name}
        return Response(body, status=status.HTTP_201_CREATED)
