"""REST API for DIDComm connections: what the Connections pages do (didcomm.views), over the same selectors and
services, for a thing's agent (`/api/things/<slug>/connections/…`) and for the owner's own
(`/api/connections/…`).

The agent is resolved as the pages resolve it: the thing through `twin_get` (anyone else's thing is a 404), then
its agent, which exists only once a write made it; a read never makes one. A connection id of another agent is
the same 404 as an unknown one. A message or ping that cannot go out now is a 409 whose message says why (the
page's words: didcomm.selectors.send_refusal), so a client can show the reason rather than guess.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, ErrorSerializer, StrictInputSerializer, TextField
from didcomm import selectors, services
from didcomm.exchange import InvitationError
from didcomm.forms import BASIC_MESSAGE_MAX, INVITATION_URL_MAX
from didcomm.models import Agent, Connection, OutboundMessage
from didcomm.timeline import peer_name
from twins.models import Twin
from twins.selectors import twin_get

TAGS = ["connections"]
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such thing or connection among yours.")
CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Nothing can be sent over this connection now; `message` says why and what to do."
)


def _twin(request: Request, slug: str | None) -> Twin | None:
    """The thing named by the route (404 unless it is the caller's), or None on the owner's own routes."""
    return twin_get(viewer=request.user, slug=slug) if slug is not None else None


def _agent(request: Request, slug: str | None) -> Agent | None:
    return selectors.agent_find(owner=request.user, twin=_twin(request, slug))


class ConnectionOutputSerializer(serializers.ModelSerializer):
    peer = serializers.SerializerMethodField(help_text="The other side's label, or what else names it.")
    can_send = serializers.SerializerMethodField(help_text="Whether a message or ping can go out now.")
    cannot_send_because = serializers.SerializerMethodField(
        help_text="Why nothing can be sent now and what to do (empty when `can_send`)."
    )

    class Meta:
        model = Connection
        ref_name = "Connection"
        fields = (
            "id",
            "state",
            "role",
            "peer",
            "their_label",
            "their_did",
            "their_endpoint",
            "protocol",
            "error",
            "can_send",
            "cannot_send_because",
            "last_ping_at",
            "last_rtt_ms",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_peer(self, connection: Connection) -> str:
        return peer_name(connection)

    def get_can_send(self, connection: Connection) -> bool:
        return not selectors.send_refusal(connection)

    def get_cannot_send_because(self, connection: Connection) -> str:
        return selectors.send_refusal(connection)


class InvitationOutputSerializer(serializers.ModelSerializer):
    invitation_url = serializers.CharField(help_text="RFC 0434 out-of-band invitation: show it as a QR or link.")

    class Meta:
        model = Connection
        ref_name = "ConnectionInvitation"
        fields = ("id", "state", "invitation_url", "created_at")
        read_only_fields = fields


class OutboundOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboundMessage
        ref_name = "ConnectionOutbound"
        fields = ("message_id", "type", "status", "created_at")
        read_only_fields = fields


class ConnectionListApi(APIView):
    @extend_schema(
        summary="List connections",
        tags=TAGS,
        responses={200: ConnectionOutputSerializer(many=True), 404: NOT_FOUND},
        description=(
            "The agent's connections, newest first (open invitations nobody answered are not listed; removed"
            " connections are, with state `abandoned`)."
        ),
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        overview = selectors.agent_overview(agent=_agent(request, slug))
        return Response(ConnectionOutputSerializer(overview.connections, many=True).data)


class InvitationCreateApi(APIView):
    @extend_schema(
        summary="Create an invitation",
        tags=TAGS,
        request=None,
        responses={
            201: InvitationOutputSerializer,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="The thing is deactivated."),
        },
        description="A new RFC 0434 invitation; the agent that answers it becomes a connection.",
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        twin = _twin(request, slug)
        invitation = services.agent_invitation_create(owner=request.user, twin=twin)
        return Response(InvitationOutputSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationAcceptApi(APIView):
    class InputSerializer(StrictInputSerializer):
        invitation_url = TextField(
            max_length=INVITATION_URL_MAX, help_text="The link another agent gave you (it contains `?oob=`)."
        )

        class Meta:
            ref_name = "InvitationAccept"

    @extend_schema(
        summary="Accept an invitation",
        tags=TAGS,
        request=InputSerializer,
        responses={
            201: ConnectionOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Not an invitation this agent can accept, and why."),
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="The thing is deactivated."),
        },
        description="Sends our DID Exchange request; the connection completes when the other agent answers.",
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        twin = _twin(request, slug)
        serializer = InvitationAcceptApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            connection = services.agent_invitation_accept(
                owner=request.user, twin=twin, invitation_url=serializer.validated_data["invitation_url"]
            )
        except InvitationError as exc:
            raise serializers.ValidationError({"invitation_url": [str(exc)]}) from None
        return Response(ConnectionOutputSerializer(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(APIView):
    @extend_schema(
        summary="Get a connection",
        tags=TAGS,
        responses={200: ConnectionOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, connection_id: int, slug: str | None = None) -> Response:
        connection = selectors.connection_get(agent=_agent(request, slug), connection_id=connection_id)
        return Response(ConnectionOutputSerializer(connection).data)


class ConnectionRemoveApi(APIView):
    @extend_schema(
        summary="Remove a connection",
        tags=TAGS,
        responses={200: ConnectionOutputSerializer, 404: NOT_FOUND},
        description=(
            "Its keys open nothing from now on; it stays listed with state `abandoned`. Removing it again is fine."
        ),
    )
    def delete(self, request: Request, connection_id: int, slug: str | None = None) -> Response:
        connection = services.connection_remove(agent=_agent(request, slug), connection_id=connection_id)
        return Response(ConnectionOutputSerializer(connection).data)


class ConnectionApi(ConnectionDetailApi, ConnectionRemoveApi):
    # GET shows a connection, DELETE removes it.
    pass


class MessageSendApi(APIView):
    class InputSerializer(StrictInputSerializer):
        content = TextField(max_length=BASIC_MESSAGE_MAX, help_text="RFC 0095 basic message text.")

        class Meta:
            ref_name = "BasicMessageSend"

    @extend_schema(
        summary="Send a basic message",
        tags=TAGS,
        request=InputSerializer,
        responses={202: OutboundOutputSerializer, 400: ERRORS[400], 404: NOT_FOUND, 409: CONFLICT},
        description="Queued for delivery (RFC 0095); `status` becomes `sent` or `failed` as the outbox delivers it.",
    )
    def post(self, request: Request, connection_id: int, slug: str | None = None) -> Response:
        agent = _agent(request, slug)
        # Another agent's connection is a 404 before the body is read: a stranger learns nothing from a 400.
        selectors.connection_get(agent=agent, connection_id=connection_id)
        serializer = MessageSendApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        content = serializer.validated_data["content"]
        try:
            outbound = services.connection_message_send(agent=agent, connection_id=connection_id, content=content)
        except services.SendRefused as exc:
            return _refused(exc)
        return Response(OutboundOutputSerializer(outbound).data, status=status.HTTP_202_ACCEPTED)


class PingSendApi(APIView):
    @extend_schema(
        summary="Send a trust ping",
        tags=TAGS,
        request=None,
        responses={202: OutboundOutputSerializer, 404: NOT_FOUND, 409: CONFLICT},
        description="RFC 0048; the answer sets the connection's `last_rtt_ms`.",
    )
    def post(self, request: Request, connection_id: int, slug: str | None = None) -> Response:
        try:
            outbound = services.connection_ping_send(agent=_agent(request, slug), connection_id=connection_id)
        except services.SendRefused as exc:
            return _refused(exc)
        return Response(OutboundOutputSerializer(outbound).data, status=status.HTTP_202_ACCEPTED)


def _refused(exc: services.SendRefused) -> Response:
    return Response({"message": str(exc), "extra": {}}, status=status.HTTP_409_CONFLICT)
