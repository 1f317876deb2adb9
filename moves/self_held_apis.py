"""The owner's API for a move of their thing away from here when their keys are self-held (moves.self_held): what
the confirmation page's two forms do, for scripts and apps.

``POST /api/move-requests/<id>/entries`` ``{"next_public_key", "password"?}`` → the two unsigned DID log entries (a
JSON list: save it as entries.json, sign it with ``python -m ssi.sign sign NEXT_KEYFILE entries.json --attach``);
``POST /api/move-requests/<id>/signed`` ``{"signed": [...], "pairing_code", "password"?}`` → the move is confirmed
(``signed``: the output of that command, unchanged; ``pairing_code``: the code the new host shows on the move's
page, moves.pairing, so that the owner confirms their own request and not a stranger's). ``<id>`` is the request's
id in the confirmation link (``/moves/out/<id>/``).

These are people's calls, not instances' (those are under /api/moves/, moves.apis): the account's session or token,
the thing's owner only (404 for anyone else), and a fresh login as on the page: ``password`` in the body, or a
browser session that signed in within the last few minutes (twins.api_transfer.confirm_recent_auth, as for a
transfer's same two steps).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, ErrorSerializer, StrictInputSerializer, TextField
from moves import selectors, self_held
from moves.models import MoveOut
from moves.services import move_confirm
from twins.api_transfer import FRESH_LOGIN, NextKeyInput, _password_field, confirm_recent_auth

TAGS = ["moves"]
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such move request for a thing of yours.")
CONFLICT = OpenApiResponse(
    ErrorSerializer, description="The thing cannot move now, or the entries no longer continue its DID log."
)
GONE = OpenApiResponse(ErrorSerializer, description="The request was cancelled, has expired or ended.")
FORBIDDEN_KEY = OpenApiResponse(
    ErrorSerializer, description="Not the key the thing's DID log committed to, or a wrong or missing password."
)


class MoveOutSerializer(serializers.ModelSerializer):
    """A request to move one of your things away, as its owner sees it."""

    id = serializers.CharField(source="public_id")
    thing = serializers.CharField(source="twin.slug")
    destination = serializers.CharField(source="destination_host", help_text="Where it goes (host[:port]).")
    # Plain text, not a second enum of MoveOut.State (moves.apis.StatusSerializer has it): drf-spectacular names
    # the two apart with a numbered enum and warns.
    state = serializers.CharField(
        help_text="`requested`, `confirmed`, `pushed`, `done`, `cancelled`, `expired`, `failed`."
    )

    class Meta:
        model = MoveOut
        ref_name = "MoveOut"
        fields = ("id", "thing", "destination", "state", "error", "created_at", "expires_at", "confirmed_at")
        read_only_fields = fields


class EntriesApi(APIView):
    class InputSerializer(NextKeyInput):
        class Meta:
            ref_name = "MoveEntriesRequest"

    @extend_schema(
        operation_id="move_requests_entries",
        summary="Get the DID log entries a self-held owner signs to move their thing",
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                {"type": "array", "items": {"type": "object"}},
                description="Sign them with `python -m ssi.sign sign NEXT_KEYFILE entries.json --attach`.",
            ),
            400: ERRORS[400],
            403: FORBIDDEN_KEY,
            404: NOT_FOUND,
            409: CONFLICT,
            410: GONE,
            429: FRESH_LOGIN[429],
        },
        description="For a request still waiting for you. Downloading again makes new entries: only the last "
        "download's entries are taken. Needs a fresh login.",
    )
    def post(self, request: Request, move_out_id: str) -> Response:
        move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
        serializer = EntriesApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        confirm_recent_auth(request, data.get("password"))
        return Response(self_held.move_prepare(move_out=move, by=request.user, revealed_key=data["next_public_key"]))


class SignedApi(APIView):
    class InputSerializer(StrictInputSerializer):
        signed = serializers.ListField(
            child=serializers.DictField(), max_length=10, help_text="The entries from `entries`, each signed."
        )
        pairing_code = TextField(
            max_length=32,
            help_text="The move's pairing code, as the new host shows it on the move's page (`ABCD-EFGH`; case, "
            "spaces and dashes do not matter). A wrong one is refused (400) and counted: the fifth cancels the "
            "request.",
        )
        password = _password_field()

        class Meta:
            ref_name = "MoveSignedRequest"

    @extend_schema(
        operation_id="move_requests_signed",
        summary="Confirm a move with the self-held owner's signed entries",
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: MoveOutSerializer,
            400: ERRORS[400],
            403: FORBIDDEN_KEY,
            404: NOT_FOUND,
            409: CONFLICT,
            410: GONE,
            429: FRESH_LOGIN[429],
        },
        description="The move goes on as if confirmed on the page: the thing is sealed and sent to the new host. A "
        "signature by another key, entries of another move or changed ones, entries the DID log has moved past and "
        "a wrong pairing code are refused and nothing changes. Needs a fresh login.",
    )
    def post(self, request: Request, move_out_id: str) -> Response:
        move = selectors.move_out_get(viewer=request.user, move_id=move_out_id)
        serializer = SignedApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        confirm_recent_auth(request, data.get("password"))
        move_confirm(move_out=move, by=request.user, pairing_code=data["pairing_code"], signed_entries=data["signed"])
        move.refresh_from_db()
        return Response(MoveOutSerializer(move).data)
