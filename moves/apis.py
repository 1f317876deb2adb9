"""The server-to-server API of a move (docs/moves.md): instances call each other here, not people.

On the source (A): ``POST /api/moves/requests`` (step 1, anyone may ask: the twin's owner here decides),
``GET /api/moves/requests/<id>`` (how it stands), ``POST …/<id>/arrived`` (step 4) and ``POST …/<id>/cancel``.
On the destination (B): ``POST /api/moves/<id>/package`` (step 3: the sealed package, application/octet-stream, in
one request) and ``GET``/``POST /api/moves/<id>/package/chunks`` (the same, a chunk a request: moves.chunks; what
the source uses, so a package larger than one request moves too).

Every call but the first carries the move's bearer token (``Authorization: Bearer …``), checked in constant time;
an unknown move and a wrong token get the same 401. Each route is rate-limited per client address (and the
package's size is capped); refusals are 4xx in the one error shape, ``{"message", "extra"}``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import ratelimit
from core.drf import ERRORS, ErrorSerializer, StrictInputSerializer, TextField
from moves import bearer, chunks, services
from moves.models import MoveIn, MoveOut

TAGS = ["moves"]
UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="No such move, or not its token.")
GONE = OpenApiResponse(ErrorSerializer, description="The move was cancelled or has expired on this side.")
CONFLICT = OpenApiResponse(ErrorSerializer, description="The move is not in a state that allows it.")
TOO_MANY = OpenApiResponse(ErrorSerializer, description="Too many calls from this address; see Retry-After.")

DEFAULT_RATES = {"requests": "30/3600", "calls": "240/60"}


def _rate(name: str) -> str:
    return getattr(settings, f"RATE_MOVES_{name.upper()}_PER_CLIENT", DEFAULT_RATES[name])


class Throttled(exceptions.Throttled):
    default_detail = "Too many move calls from this address."


def _limit(request: Request, name: str) -> None:
    wait = ratelimit.hit(f"moves-{name}", ratelimit.client_id(request), _rate(name))
    if wait is not None:
        raise Throttled(
            wait=wait, detail=f"Too many move calls from this address: try again {ratelimit.wait_text(wait)}."
        )


def _bearer_row(request: Request, model: type[MoveIn] | type[MoveOut], move_id: str) -> Any:
    """The move named in the URL, if the request carries its token; 401 (the same for both failures) otherwise."""
    row = model.objects.filter(public_id=move_id[:32]).first()
    if not bearer.matches(bearer.presented(request), row.token_hash if row is not None else None):
        raise exceptions.AuthenticationFailed("Unknown move, or not its token (Authorization: Bearer <token>).")
    return row


class ServerApi(APIView):
    """Instances, not accounts: no session, no CSRF, no account throttle; the token or the request is the
    authority, and limits are per client address."""

    authentication_classes: tuple = ()
    permission_classes = (AllowAny,)
    throttle_classes: tuple = ()

    def get_authenticate_header(self, request: Request) -> str:
        return "Bearer"


# -- source (A) ---------------------------------------------------------------------------------------------------


class RequestApi(ServerApi):
    class InputSerializer(StrictInputSerializer):
        id = TextField(max_length=32, help_text="The destination's id of the move (its package URL names it).")
        did = TextField(max_length=500, help_text="The thing's did:webvh DID, or the URL of its page here.")
        destination = TextField(max_length=300, help_text="The destination instance's base URL (its SITE_URL).")
        destination_did_domain = TextField(max_length=300, help_text="The domain the destination mints DIDs under.")
        key = TextField(max_length=64, help_text="The destination's X25519 public key for this move, base64.")
        token = TextField(max_length=128, help_text="The bearer token both sides present from now on.")
        owner_update_key = TextField(max_length=64, help_text="The new owner's current update key (z6Mk…).")
        owner_next_key_hash = TextField(max_length=64, help_text="The new owner's next key hash (pre-rotation).")

        class Meta:
            ref_name = "MoveRequestInput"

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField(help_text="This instance's id of the move.")
        confirm_url = serializers.CharField(help_text="Where the thing's owner confirms the move, signed in here.")
        did = serializers.CharField(help_text="The thing's DID (its SCID stays when it moves).")
        expires_at = serializers.DateTimeField(help_text="Unconfirmed by then, the request expires.")

        class Meta:
            ref_name = "MoveRequestAnswer"

    @extend_schema(
        operation_id="moves_request",
        summary="Ask for a thing to move to your instance",
        tags=TAGS,
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            200: OutputSerializer,
            400: ERRORS[400],
            404: OpenApiResponse(ErrorSerializer, description="No thing here has this DID or address."),
            409: CONFLICT,
            410: OpenApiResponse(ErrorSerializer, description="The thing has moved away from here."),
            429: TOO_MANY,
        },
        description=(
            "Step 1, server to server. Nothing moves until the thing's owner here confirms at `confirm_url` (a"
            " day at most). The same token again is the same request (200)."
        ),
    )
    def post(self, request: Request) -> Response:
        _limit(request, "requests")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        move, created = services.request_received(data.validated_data)
        body = {
            "id": move.public_id,
            "confirm_url": settings.SITE_URL + reverse("move-out", args=[move.public_id]),
            "did": move.twin.did,
            "expires_at": move.expires_at,
        }
        return Response(
            self.OutputSerializer(body).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class StatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=MoveOut.State.choices)
    expires_at = serializers.DateTimeField()
    error = serializers.CharField(help_text="Why it failed, if it did.")

    class Meta:
        ref_name = "MoveStatus"


class StatusApi(ServerApi):
    @extend_schema(
        operation_id="moves_request_status",
        summary="How a move request stands on the old host",
        tags=TAGS,
        responses={200: StatusSerializer, 401: UNAUTHORIZED, 429: TOO_MANY},
    )
    def get(self, request: Request, request_id: str) -> Response:
        _limit(request, "calls")
        move = _bearer_row(request, MoveOut, request_id)
        return Response(StatusSerializer(services.status_of(move)).data)


class ArrivedApi(ServerApi):
    class InputSerializer(StrictInputSerializer):
        sha256 = TextField(max_length=64, min_length=64, help_text="SHA-256 (hex) of the package that arrived.")

        class Meta:
            ref_name = "MoveArrivedInput"

    @extend_schema(
        operation_id="moves_request_arrived",
        summary="Tell the old host the thing arrived",
        tags=TAGS,
        request=InputSerializer,
        responses={200: StatusSerializer, 400: ERRORS[400], 401: UNAUTHORIZED, 409: CONFLICT, 410: GONE, 429: TOO_MANY},
        description=(
            "Step 4: the old host puts the move into the thing's DID log and lets go of it, in one transaction."
            " Idempotent: asked again, it answers 200 again."
        ),
    )
    def post(self, request: Request, request_id: str) -> Response:
        _limit(request, "calls")
        move = _bearer_row(request, MoveOut, request_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        move = services.arrival_received(move=move, sha256=data.validated_data["sha256"])
        return Response(StatusSerializer(services.status_of(move)).data)


class CancelApi(ServerApi):
    @extend_schema(
        operation_id="moves_request_cancel",
        summary="Cancel a move request (the new host's owner changed their mind)",
        tags=TAGS,
        request=None,
        responses={200: StatusSerializer, 401: UNAUTHORIZED, 409: CONFLICT, 429: TOO_MANY},
        description="Idempotent; 409 once the thing has moved.",
    )
    def post(self, request: Request, request_id: str) -> Response:
        _limit(request, "calls")
        move = _bearer_row(request, MoveOut, request_id)
        move = services.cancel_received(move=move)
        return Response(StatusSerializer(services.status_of(move)).data)


# -- destination (B) ----------------------------------------------------------------------------------------------


class PackageTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The package is too large for this instance."


class SealedPackageParser(BaseParser):
    """The sealed package as bytes, read up to the cap (Django's form-size limit is not for this body)."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        cap = chunks.max_package_bytes()
        data = stream.read(cap + 1) if stream is not None else b""
        if len(data) > cap:
            raise PackageTooLarge(f"The package is too large for this instance: the limit is {cap} bytes.")
        return data


class PackageSerializer(serializers.Serializer):
    sha256 = serializers.CharField(help_text="SHA-256 (hex) of the package's plaintext, as opened here.")

    class Meta:
        ref_name = "MovePackageReceived"


class PackageApi(ServerApi):
    parser_classes = (SealedPackageParser,)

    @extend_schema(
        operation_id="moves_package",
        summary="Push a thing's sealed package to its new host",
        tags=TAGS,
        request={"application/octet-stream": {"type": "string", "format": "binary"}},
        responses={
            200: PackageSerializer,
            400: ERRORS[400],
            401: UNAUTHORIZED,
            409: CONFLICT,
            410: GONE,
            413: OpenApiResponse(ErrorSerializer, description="The package is larger than this instance takes."),
            415: ERRORS[415],
            429: TOO_MANY,
        },
        description=(
            "Step 3: the package sealed to this move's key (a libsodium sealed box of its zlib-compressed canonical"
            " JSON). The thing is restored here but not live until the old host lets go. The same package again: 200"
            " again."
        ),
    )
    def post(self, request: Request, move_id: str) -> Response:
        _limit(request, "calls")
        move = _bearer_row(request, MoveIn, move_id)
        ciphertext = request.data
        if not isinstance(ciphertext, bytes) or not ciphertext:
            raise exceptions.ValidationError({"package": ["Send the sealed package as the body."]})
        sha256 = services.package_received(move=move, ciphertext=ciphertext)
        return Response(PackageSerializer({"sha256": sha256}).data)


class ChunkParser(BaseParser):
    """One chunk of a sealed package as bytes (BodySizeLimitMiddleware has capped it at REQUEST_MAX_BYTES)."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read(chunks.chunk_bytes() + 1) if stream is not None else b""


class ChunkQuerySerializer(StrictInputSerializer):
    sealed_sha256 = TextField(max_length=64, help_text="SHA-256 (hex) of the whole sealed package, as pushed.")

    class Meta:
        ref_name = "MovePackageChunkQuery"


class ChunkInputSerializer(ChunkQuerySerializer):
    offset = serializers.IntegerField(min_value=0, help_text="Where this chunk starts in the sealed package.")
    size = serializers.IntegerField(min_value=1, help_text="The whole sealed package's length in bytes.")

    class Meta:
        ref_name = "MovePackageChunkInput"


class ChunkAnswerSerializer(serializers.Serializer):
    offset = serializers.IntegerField(help_text="How many bytes of the package this instance holds: go on there.")
    chunk_bytes = serializers.IntegerField(help_text="The largest chunk this instance takes in one request.")
    max_bytes = serializers.IntegerField(help_text="The largest package this instance takes.")
    sha256 = serializers.CharField(
        required=False, help_text="Once the package is whole and opened: SHA-256 (hex) of its plaintext."
    )

    class Meta:
        ref_name = "MovePackageChunkAnswer"


def _chunk_answer(offset: int, sha256: str | None = None) -> dict:
    body = {"offset": offset, "chunk_bytes": chunks.chunk_bytes(), "max_bytes": chunks.max_package_bytes()}
    if sha256 is not None:
        body["sha256"] = sha256
    return ChunkAnswerSerializer(body).data


class PackageChunkApi(ServerApi):
    """Step 3 for a package of any size up to MOVES_MAX_PACKAGE_BYTES: its sealed bytes in order, a request each
    (moves.chunks); the last opens it as ``POST …/package`` does."""

    parser_classes = (ChunkParser,)

    @extend_schema(
        operation_id="moves_package_chunks_held",
        summary="How much of a sealed package the new host holds",
        tags=TAGS,
        parameters=[ChunkQuerySerializer],
        responses={200: ChunkAnswerSerializer, 400: ERRORS[400], 401: UNAUTHORIZED, 410: GONE, 429: TOO_MANY},
        description="Where a push resumes (0 for a package not begun), and the largest chunk taken here.",
    )
    def get(self, request: Request, move_id: str) -> Response:
        _limit(request, "calls")
        move = _bearer_row(request, MoveIn, move_id)
        query = ChunkQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        chunks.check_taking(move)
        return Response(_chunk_answer(chunks.held(move, chunks.check_sealed_sha256(query.data["sealed_sha256"]))))

    @extend_schema(
        operation_id="moves_package_chunk",
        summary="Push one chunk of a thing's sealed package to its new host",
        tags=TAGS,
        parameters=[ChunkInputSerializer],
        request={"application/octet-stream": {"type": "string", "format": "binary"}},
        responses={
            200: ChunkAnswerSerializer,
            400: ERRORS[400],
            401: UNAUTHORIZED,
            409: OpenApiResponse(
                ErrorSerializer,
                description="Not at the held bytes' end (`extra.offset`: go on there), or as …/package.",
            ),
            410: GONE,
            413: OpenApiResponse(ErrorSerializer, description="The package is larger than this instance takes."),
            415: ERRORS[415],
            429: TOO_MANY,
        },
        description=(
            "The sealed package's bytes from `offset`, at most `chunk_bytes` of them. The chunk that completes it"
            " (or an empty one at `offset` = `size`, to open a whole package again) checks `sealed_sha256` and"
            " opens the package as `POST /api/moves/<id>/package` does: the answer then has its `sha256`."
        ),
    )
    def post(self, request: Request, move_id: str) -> Response:
        _limit(request, "calls")
        move = _bearer_row(request, MoveIn, move_id)
        query = ChunkInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        sealed_sha256 = chunks.check_sealed_sha256(query.validated_data["sealed_sha256"])
        size = query.validated_data["size"]
        data = request.data if isinstance(request.data, bytes) else b""
        if len(data) > chunks.chunk_bytes():
            raise PackageTooLarge(f"A chunk is at most {chunks.chunk_bytes()} bytes here.")
        chunks.check_taking(move)
        offset = chunks.append(
            move, sealed_sha256=sealed_sha256, size=size, offset=query.validated_data["offset"], data=data
        )
        if offset < size:
            return Response(_chunk_answer(offset))
        try:
            ciphertext = chunks.whole(move, sealed_sha256=sealed_sha256, size=size)
            sha256 = services.package_received(move=move, ciphertext=ciphertext)
        except (chunks.ChunkRefused, services.MoveRefused):
            chunks.forget(move)
            raise
        chunks.forget(move)
        return Response(_chunk_answer(offset, sha256))
