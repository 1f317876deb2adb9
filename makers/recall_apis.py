"""The organisation API for recalls, the dashboard and what was received (organisation tokens, or a member's own
session or token: makers.tokens). One class per operation; a GET list and a POST create on one URL are joined.

Issuing a recall needs an admin (an organisation token counts as one: an admin made it); reading needs a member.
Anyone else gets a 404, as for every private route. No output names an owner who is not connected
(makers.dashboard).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, StrictInputSerializer, TextField, paginated_response
from makers import dashboard as numbers
from makers import recalls
from makers.models import Recall
from makers.tokens import AUTHENTICATION_CLASSES, organisation_for_request
from sharing.models import ReceivedNotification

FORBIDDEN = OpenApiResponse(description="A member who is not an admin: only an admin can issue a recall.")


class AcknowledgementSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="The label of the connected owner's connection with the organisation.")
    thing = serializers.CharField(help_text="The thing's DID as the notice named it.")
    acknowledged_at = serializers.DateTimeField()

    class Meta:
        ref_name = "RecallAcknowledgement"


class ReachSerializer(serializers.Serializer):
    affected = serializers.IntegerField(help_text="Things the recall covers, unclaimed ones included.")
    notified_things = serializers.IntegerField(help_text="Things whose owner got the recall in the inbox.")
    notified_owners = serializers.IntegerField(help_text="Owners told (a count: owners are never named).")
    connected = serializers.IntegerField(help_text="DIDComm notices sent to connected owners (connection × thing).")
    acknowledged = serializers.IntegerField(help_text="Things acknowledged, locally or over DIDComm.")
    acknowledged_by = AcknowledgementSerializer(many=True, help_text="Connected owners who acknowledged.")

    class Meta:
        ref_name = "RecallReach"


class RecallOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    gtin = serializers.CharField(source="model.gtin")
    model = serializers.CharField(source="model.name")
    title = serializers.CharField()
    text = serializers.CharField()
    severity = serializers.ChoiceField(choices=Recall.Severity.choices)
    link = serializers.CharField()
    serials = serializers.ListField(child=serializers.CharField())
    serial_from = serializers.CharField()
    serial_to = serializers.CharField()
    created_at = serializers.DateTimeField()
    fanned_out_at = serializers.DateTimeField(allow_null=True, help_text="When the owners were told (null: soon).")
    url = serializers.SerializerMethodField(help_text="The recall's public page.")

    class Meta:
        ref_name = "Recall"

    def get_url(self, recall: Recall) -> str:
        return recalls.recall_page_path(recall.pk)


class RecallDetailOutputSerializer(serializers.Serializer):
    recall = RecallOutputSerializer()
    reach = ReachSerializer()

    class Meta:
        ref_name = "RecallDetail"


def _detail(recall: Recall) -> dict[str, Any]:
    return RecallDetailOutputSerializer({"recall": recall, "reach": numbers.recall_reach(recall)}).data


class RecallListApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES

    @extend_schema(
        operation_id="org_recalls_list",
        summary="List the organisation's recalls",
        responses={200: RecallOutputSerializer(many=True), 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug)
        return paginated_response(
            request=request,
            view=self,
            queryset=recalls.recall_list_for_organisation(organisation=organisation),
            serializer_class=RecallOutputSerializer,
        )


class RecallIssueApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES

    class InputSerializer(StrictInputSerializer):
        gtin = TextField(max_length=14, help_text="The model's GTIN (8, 12, 13 or 14 digits).")
        title = TextField(max_length=200)
        text = TextField(max_length=4000, help_text="What owners must know and do.")
        severity = serializers.ChoiceField(choices=Recall.Severity.choices, default=Recall.Severity.WARNING)
        link = TextField(max_length=500, required=False, allow_blank=True, help_text="An https:// page.")
        serials = serializers.ListField(
            child=TextField(max_length=20),
            required=False,
            max_length=recalls.MAX_SERIALS,
            help_text="The serials it covers (or give a range, or neither for every unit).",
        )
        serial_from = TextField(max_length=20, required=False, allow_blank=True)
        serial_to = TextField(
            max_length=20,
            required=False,
            allow_blank=True,
            help_text="Inclusive range end. Digits at both ends: numeric; else equal-length ends, byte order.",
        )

        class Meta:
            ref_name = "RecallIssue"

    @extend_schema(
        operation_id="org_recalls_create",
        summary="Issue a recall (admins)",
        description="Public at once; every current owner of an affected thing is told (inbox and email, DIDComm "
        "for connected owners) by the task worker.",
        request=InputSerializer,
        responses={201: RecallDetailOutputSerializer, 400: ERRORS[400], 403: FORBIDDEN, 404: ERRORS[404]},
        examples=[
            OpenApiExample(
                "A range",
                value={
                    "gtin": "09506000134352",
                    "title": "Burr may crack",
                    "text": "Stop using it; we send a new burr.",
                    "severity": "critical",
                    "link": "https://acme.example/recall/7",
                    "serial_from": "1000",
                    "serial_to": "1999",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug, admin=True)
        serializer = RecallIssueApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        recall = recalls.recall_issue(
            organisation=organisation,
            by=request.user,
            gtin=data["gtin"],
            title=data["title"],
            text=data["text"],
            severity=data["severity"],
            link=data.get("link", ""),
            serials=data.get("serials"),
            serial_from=data.get("serial_from", ""),
            serial_to=data.get("serial_to", ""),
        )
        recall.refresh_from_db()
        return Response(_detail(recall), status=status.HTTP_201_CREATED)


class RecallsApi(RecallListApi, RecallIssueApi):
    # GET lists the organisation's recalls, POST issues one.
    pass


class RecallDetailApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES

    @extend_schema(
        operation_id="org_recalls_retrieve",
        summary="Show a recall and its reach",
        responses={200: RecallDetailOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str, recall_id: int) -> Response:
        organisation = organisation_for_request(request, slug)
        recall = recalls.recall_get_for_organisation(organisation=organisation, recall_id=recall_id)
        return Response(_detail(recall))


class ModelCountSerializer(serializers.Serializer):
    gtin = serializers.CharField()
    name = serializers.CharField()
    produced = serializers.IntegerField()
    claimed = serializers.IntegerField(help_text="No longer held by the organisation.")

    class Meta:
        ref_name = "DashboardModel"


class ReceivedCountSerializer(serializers.Serializer):
    kind = serializers.CharField()
    messages = serializers.IntegerField()
    items = serializers.IntegerField()

    class Meta:
        ref_name = "DashboardReceived"


class DashboardRecallSerializer(ReachSerializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    severity = serializers.CharField()
    gtin = serializers.CharField()
    model = serializers.CharField()
    scope = serializers.CharField()
    created_at = serializers.DateTimeField()
    fanned_out_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "DashboardRecall"


class ConnectionCountSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    declined = serializers.IntegerField()

    class Meta:
        ref_name = "DashboardConnections"


class DashboardApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES

    class OutputSerializer(serializers.Serializer):
        models = ModelCountSerializer(many=True)
        produced = serializers.IntegerField()
        claimed = serializers.IntegerField()
        connections = ConnectionCountSerializer()
        received = ReceivedCountSerializer(many=True)
        recalls = DashboardRecallSerializer(many=True)

        class Meta:
            ref_name = "Dashboard"

    @extend_schema(
        operation_id="org_dashboard",
        summary="The organisation's dashboard numbers",
        responses={200: OutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug)
        return Response(DashboardApi.OutputSerializer(numbers.dashboard(organisation)).data)


class ReceivedListApi(APIView):
    authentication_classes = AUTHENTICATION_CLASSES

    class FilterSerializer(serializers.Serializer):
        kind = TextField(max_length=60, required=False, help_text="Only this data kind (readings, scans…).")

        class Meta:
            ref_name = "ReceivedFilter"

    class OutputSerializer(serializers.ModelSerializer):
        connection = serializers.CharField(source="connection.their_label", help_text="The sender's label.")

        class Meta:
            model = ReceivedNotification
            fields = ["message_id", "kind", "thing", "count", "body", "received_at", "connection"]
            ref_name = "ReceivedNotification"

    @extend_schema(
        operation_id="org_received_list",
        summary="What the organisation's agent received under owners' grants",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug)
        params = ReceivedListApi.FilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        queryset = ReceivedNotification.objects.filter(
            connection__agent__owner_id=organisation.account_id
        ).select_related("connection")
        if params.validated_data.get("kind"):
            queryset = queryset.filter(kind=params.validated_data["kind"])
        return paginated_response(
            request=request, view=self, queryset=queryset, serializer_class=ReceivedListApi.OutputSerializer
        )
