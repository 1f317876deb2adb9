"""The API equivalent of /emergency/present: a rescuer's software asks for a check (a challenge and a domain),
presents the emergency access credential for it, and gets what the emergency view shows, with the paths of the
view and of its live connection. No account: the presentation is the authority, as the link's token is."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, ErrorSerializer, StrictInputSerializer, TextField
from core.ratelimit import client_id, hit, wait_text
from credentials import emergency, selectors, services

PRESENT_LIMIT = "30/60"  # as the page: checks started and presentations per minute per address


def _limited(request: Request) -> Response | None:
    wait = hit("emergency-present", client_id(request), PRESENT_LIMIT)
    if wait is None:
        return None
    response = Response(
        {"message": f"Too many tries from here: try again {wait_text(wait)}.", "extra": {}},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(wait)
    return response


class EmergencyReadingSerializer(serializers.Serializer):
    value = serializers.FloatField()
    unit = serializers.CharField()
    time = serializers.DateTimeField()

    class Meta:
        ref_name = "EmergencyReading"


class EmergencyKindSerializer(serializers.Serializer):
    kind = serializers.CharField()
    readings = EmergencyReadingSerializer(many=True, help_text="The latest, newest first.")

    class Meta:
        ref_name = "EmergencyKind"


class EmergencyThingSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="Its number in the grant (the live events name it so).")
    name = serializers.CharField()
    kinds = EmergencyKindSerializer(many=True)

    class Meta:
        ref_name = "EmergencyThing"


class EmergencyChallengeApi(APIView):
    permission_classes = (AllowAny,)

    class OutputSerializer(serializers.Serializer):
        session = serializers.CharField(help_text="Send it back with the presentation.")
        challenge = serializers.CharField()
        domain = serializers.CharField()
        expires_at = serializers.DateTimeField()

        class Meta:
            ref_name = "EmergencyChallenge"

    @extend_schema(
        operation_id="emergency_challenge",
        summary="Start an emergency access check: the challenge and domain to present the credential for",
        request=None,
        responses={201: OutputSerializer, 429: OpenApiResponse(ErrorSerializer, description="Too many tries.")},
    )
    def post(self, request: Request) -> Response:
        limited = _limited(request)
        if limited is not None:
            return limited
        session = services.verifier_session_start()
        data = {
            "session": session.public_id,
            "challenge": session.challenge,
            "domain": session.domain,
            "expires_at": session.expires_at,
        }
        return Response(EmergencyChallengeApi.OutputSerializer(data).data, status=status.HTTP_201_CREATED)


class EmergencyPresentApi(APIView):
    permission_classes = (AllowAny,)

    class InputSerializer(StrictInputSerializer):
        session = TextField(max_length=32, help_text="From POST /api/emergency/challenges.")
        presentation = serializers.DictField(help_text="A verifiable presentation of the emergency credential(s).")

        class Meta:
            ref_name = "EmergencyPresent"

    class OutputSerializer(serializers.Serializer):
        recipient = serializers.CharField()
        valid_until = serializers.DateTimeField()
        view = serializers.CharField(help_text="The read-only view's path (open while the access is).")
        live = serializers.CharField(help_text="Its WebSocket path: readings as they arrive.")
        things = EmergencyThingSerializer(many=True)

        class Meta:
            ref_name = "EmergencyView"

    @extend_schema(
        operation_id="emergency_present",
        summary="Present an emergency access credential instead of opening its link",
        description=(
            "The presentation must be made for the check's challenge and domain and carry the emergency access "
            "credential(s) of one grant of this site. Refusals say why: 400 tampered, made for another check, "
            "not a presentation or a finished check; 403 not an emergency credential of this site; 410 expired "
            "or revoked; `extra.verdict` names the verifier's verdict. Every access is logged for the guardian."
        ),
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(ErrorSerializer, description="Not an emergency access credential of this site."),
            404: OpenApiResponse(ErrorSerializer, description="No such check, or it expired: start a new one."),
            410: OpenApiResponse(ErrorSerializer, description="The access has ended (expired or revoked)."),
            429: OpenApiResponse(ErrorSerializer, description="Too many tries."),
        },
    )
    def post(self, request: Request) -> Response:
        limited = _limited(request)
        if limited is not None:
            return limited
        serializer = EmergencyPresentApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = selectors.session_get(session_id=serializer.validated_data["session"])
        try:
            grant, grant_pass = emergency.emergency_present(
                document=serializer.validated_data["presentation"],
                session=session,
                client=client_id(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        except emergency.PresentationRefused as exc:
            return Response({"message": exc.message, "extra": {"verdict": exc.verdict}}, status=exc.status)
        _grant, views = emergency.emergency_view(token=grant_pass)
        data = {
            "recipient": grant.recipient,
            "valid_until": grant.valid_until,
            "view": reverse("emergency-view", args=[grant_pass]),
            "live": f"/ws/emergency/{grant_pass}/",
            "things": [
                {
                    "number": view.number,
                    "name": view.twin.name,
                    "kinds": [
                        {
                            "kind": kind.kind,
                            "readings": [{"value": r.value, "unit": r.unit, "time": r.time} for r in kind.readings],
                        }
                        for kind in view.kinds
                    ],
                }
                for view in views
            ],
        }
        return Response(EmergencyPresentApi.OutputSerializer(data).data)
