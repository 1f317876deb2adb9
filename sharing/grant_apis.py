"""REST API of grants, the delivery log and webhook endpoints, for the signed-in owner only: another owner's
thing, grant or endpoint is a 404 (the selectors), checked before the body is read. One class per operation;
classes sharing a URL are joined by a small class with a comment (see twins/apis.py)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, AwareDateTimeField, Pagination, StrictInputSerializer, TextField, paginated_response
from sharing import grants, selectors
from sharing.models import DATA_KINDS, Grant, OutboxItem, WebhookEndpoint
from twins import selectors as twin_selectors

KINDS_HELP = f"Data kinds: {', '.join(DATA_KINDS)}, or readings:<kind> for one kind of reading (readings:temperature)."


def _validation(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({"non_field_errors": exc.messages})


class PartySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["didcomm", "webhook"])
    id = serializers.IntegerField(help_text="The connection's or the webhook endpoint's id.")
    label = serializers.CharField()

    class Meta:
        ref_name = "GrantParty"


class GrantOutputSerializer(serializers.ModelSerializer):
    thing = serializers.CharField(source="twin.slug", read_only=True, help_text="The thing's public id.")
    party = serializers.SerializerMethodField()
    kinds = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=KINDS_HELP)
    active = serializers.SerializerMethodField()

    class Meta:
        model = Grant
        ref_name = "Grant"
        fields = ("id", "thing", "party", "kinds", "expires_at", "active", "revoked_at", "revoked_reason", "created_at")
        read_only_fields = fields

    @extend_schema_field(PartySerializer)
    def get_party(self, grant: Grant) -> dict:
        if grant.connection_id:
            return {"type": "didcomm", "id": grant.connection_id, "label": selectors.party_label(grant.connection)}
        return {"type": "webhook", "id": grant.endpoint_id, "label": grant.endpoint.label}

    @extend_schema_field(serializers.BooleanField(help_text="In force now: not revoked, not expired."))
    def get_active(self, grant: Grant) -> bool:
        return selectors.is_active(grant)


class GrantListApi(APIView):
    @extend_schema(
        operation_id="things_grants_list",
        summary="List a thing's grants",
        responses={200: GrantOutputSerializer(many=True), 404: ERRORS[404]},
        description="Every grant you made on the thing, ended ones too, newest first.",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = twin_selectors.twin_get(viewer=request.user, slug=slug)
        return Response(GrantOutputSerializer(selectors.grant_list(twin=twin), many=True).data)


class GrantCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        connection = serializers.IntegerField(required=False, help_text="A completed DIDComm connection of yours.")
        endpoint = serializers.IntegerField(required=False, help_text="One of your webhook endpoints.")
        kinds = serializers.ListField(child=TextField(max_length=60), allow_empty=False, help_text=KINDS_HELP)
        expires_at = AwareDateTimeField(
            required=False, allow_null=True, help_text="End of the grant; none: until revoked."
        )

        class Meta:
            ref_name = "GrantCreate"

        def validate(self, data: dict) -> dict:
            if ("connection" in data) == ("endpoint" in data):
                raise serializers.ValidationError("Give exactly one of connection and endpoint.")
            return data

    @extend_schema(
        operation_id="things_grants_create",
        summary="Grant a party data of a thing",
        request=InputSerializer,
        responses={201: GrantOutputSerializer, 400: ERRORS[400], 404: ERRORS[404], 409: ERRORS[400]},
        examples=[
            OpenApiExample(
                "Temperature readings to a connection until a date",
                request_only=True,
                value={"connection": 12, "kinds": ["readings:temperature"], "expires_at": "2027-01-31T00:00:00Z"},
            )
        ],
        description="Refused with 409 when the party already has an active grant on the thing (change it instead).",
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = twin_selectors.twin_get(viewer=request.user, slug=slug)
        serializer = GrantCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            if "connection" in data:
                party = selectors.connection_get(viewer=request.user, connection_id=data["connection"])
            else:
                party = selectors.endpoint_get(viewer=request.user, endpoint_id=data["endpoint"])
        except Http404:
            field = "connection" if "connection" in data else "endpoint"
            raise serializers.ValidationError({field: [f"No such {field} among yours."]}) from None
        try:
            grant = grants.grant_create(
                twin=twin, party=party, kinds=data["kinds"], expires_at=data.get("expires_at"), by=request.user
            )
        except DjangoValidationError as exc:
            raise _validation(exc) from None
        return Response(GrantOutputSerializer(grant).data, status=status.HTTP_201_CREATED)


class GrantsApi(GrantListApi, GrantCreateApi):
    # GET lists a thing's grants, POST makes one.
    pass


class GrantDetailApi(APIView):
    @extend_schema(
        operation_id="grants_retrieve", summary="Show a grant", responses={200: GrantOutputSerializer, 404: ERRORS[404]}
    )
    def get(self, request: Request, grant_id: int) -> Response:
        return Response(GrantOutputSerializer(selectors.grant_get(viewer=request.user, grant_id=grant_id)).data)


class GrantUpdateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        kinds = serializers.ListField(
            child=TextField(max_length=60), allow_empty=False, required=False, help_text=KINDS_HELP
        )
        expires_at = AwareDateTimeField(required=False, allow_null=True, help_text="null: until revoked.")

        class Meta:
            ref_name = "GrantUpdate"

    @extend_schema(
        operation_id="grants_partial_update",
        summary="Change a grant's kinds or end",
        request=InputSerializer,
        responses={200: GrantOutputSerializer, 400: ERRORS[400], 404: ERRORS[404], 409: ERRORS[400]},
        description="What the grant no longer covers is dropped from what waits to be sent. An ended grant: 409.",
    )
    def patch(self, request: Request, grant_id: int) -> Response:
        grant = selectors.grant_get(viewer=request.user, grant_id=grant_id)
        serializer = GrantUpdateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        fields = {}
        if "kinds" in data:
            fields["kinds"] = data["kinds"]
        if "expires_at" in data:
            fields["expires_at"] = data["expires_at"]
        try:
            grant = grants.grant_update(grant=grant, by=request.user, **fields)
        except DjangoValidationError as exc:
            raise _validation(exc) from None
        return Response(GrantOutputSerializer(selectors.grant_get(viewer=request.user, grant_id=grant.pk)).data)


class GrantRevokeApi(APIView):
    @extend_schema(
        operation_id="grants_destroy",
        summary="Revoke a grant",
        responses={200: GrantOutputSerializer, 404: ERRORS[404]},
        description="Ends the grant now and cancels what waited to be sent under it. Revoking again changes nothing.",
    )
    def delete(self, request: Request, grant_id: int) -> Response:
        grant = selectors.grant_get(viewer=request.user, grant_id=grant_id)
        grant = grants.grant_revoke(grant=grant, by=request.user)
        return Response(GrantOutputSerializer(selectors.grant_get(viewer=request.user, grant_id=grant.pk)).data)


class GrantApi(GrantDetailApi, GrantUpdateApi, GrantRevokeApi):
    # GET shows a grant, PATCH changes it, DELETE revokes it.
    pass


class DeliveryOutputSerializer(serializers.ModelSerializer):
    grant = serializers.IntegerField(source="grant_id", read_only=True)
    status = serializers.ChoiceField(choices=OutboxItem.Status.choices, read_only=True)

    class Meta:
        model = OutboxItem
        ref_name = "Delivery"
        fields = (
            "message_id",
            "grant",
            "kind",
            "count",
            "status",
            "created_at",
            "attempts",
            "last_status_code",
            "last_error",
            "delivered_at",
        )
        read_only_fields = fields


class DeliveryListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="things_deliveries_list",
        summary="The delivery log of a thing",
        responses={200: DeliveryOutputSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
        description="What was sent under your grants on the thing (or waits, failed, was cancelled), newest first.",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = twin_selectors.twin_get(viewer=request.user, slug=slug)
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.delivery_list(viewer=request.user, twin=twin),
            serializer_class=DeliveryOutputSerializer,
        )


class EndpointOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        ref_name = "WebhookEndpoint"
        fields = ("id", "label", "url", "created_at", "disabled_at", "disabled_reason")
        read_only_fields = fields


class EndpointCreatedSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(read_only=True, help_text="The Standard Webhooks secret (whsec_…), shown this once.")

    class Meta(EndpointOutputSerializer.Meta):
        ref_name = "WebhookEndpointCreated"
        fields = (*EndpointOutputSerializer.Meta.fields, "secret")
        read_only_fields = fields


class EndpointListApi(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_list",
        summary="List your webhook endpoints",
        responses={200: EndpointOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(EndpointOutputSerializer(selectors.endpoint_list(viewer=request.user), many=True).data)


class EndpointCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        label = TextField(max_length=120, help_text="Who receives it.")
        url = TextField(max_length=2000, help_text="https:// URL on a public address.")

        class Meta:
            ref_name = "WebhookEndpointCreate"

    @extend_schema(
        operation_id="webhook_endpoints_create",
        summary="Add a webhook endpoint",
        request=InputSerializer,
        responses={201: EndpointCreatedSerializer, 400: ERRORS[400]},
        description="The answer holds the endpoint's signing secret: the only time it is shown.",
    )
    def post(self, request: Request) -> Response:
        serializer = EndpointCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint, secret = grants.webhook_endpoint_create(owner=request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise _validation(exc) from None
        endpoint.secret = secret
        response = Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class EndpointsApi(EndpointListApi, EndpointCreateApi):
    # GET lists the caller's endpoints, POST adds one.
    pass


class EndpointDeleteApi(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_destroy",
        summary="Delete a webhook endpoint",
        responses={204: None, 404: ERRORS[404]},
        description="Revokes every grant to it first (recorded in each thing's history).",
    )
    def delete(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_get(viewer=request.user, endpoint_id=endpoint_id)
        grants.webhook_endpoint_delete(endpoint=endpoint, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
