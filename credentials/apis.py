"""POST /api/credentials/verify: anyone may check a credential or a presentation (no account, no network fetch)."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, StrictInputSerializer, TextField
from credentials.selectors import policy_by_public_id
from credentials.verification import HEADLINES, SUBJECT_FIELDS, NotACredential, verify_document

MAX_BODY_BYTES = 256 * 1024  # a credential is a kilobyte or two; anything this large is not one


class SubjectSerializer(serializers.Serializer):
    """What the credential says, shown only when its signature holds."""

    id = serializers.CharField(required=False, help_text="The holder's DID.")
    owns = serializers.CharField(required=False, help_text="The thing's DID (the issuer, for ownership).")
    name = serializers.CharField(required=False)
    model = serializers.CharField(required=False)
    serial = serializers.CharField(required=False)
    since = serializers.CharField(required=False, help_text="Owned since (date-time).")
    manufacturerName = serializers.CharField(required=False, help_text="Who made it (an authenticity credential).")
    gtin = serializers.CharField(required=False, help_text="The model's GTIN-14 (an authenticity credential).")
    produced = serializers.CharField(required=False, help_text="Made on (date-time; an authenticity credential).")

    class Meta:
        ref_name = "CredentialSubjectSummary"


class CredentialVerifyApi(APIView):
    # Public: no account needed. A token (or session) still counts the caller's checks per account rather than per
    # address (core.ratelimit.ApiThrottle).
    permission_classes = (AllowAny,)

    class InputSerializer(StrictInputSerializer):
        credential = serializers.DictField(required=False, help_text="A verifiable credential (JSON object).")
        presentation = serializers.DictField(required=False, help_text="A verifiable presentation (JSON object).")
        challenge = TextField(
            required=False, max_length=200, help_text="For a presentation: the challenge you gave the holder."
        )
        domain = TextField(required=False, max_length=200, help_text="For a presentation: the domain you gave.")
        policy = TextField(required=False, max_length=32, help_text="A verifier policy id (/verify/policies/).")

        class Meta:
            ref_name = "CredentialVerify"

        def validate(self, data: dict) -> dict:
            if ("credential" in data) == ("presentation" in data):
                raise serializers.ValidationError("Send exactly one of credential and presentation.")
            if "presentation" in data and not (data.get("challenge") and data.get("domain")):
                raise serializers.ValidationError(
                    "A presentation is checked against the challenge and domain you gave its holder: send both."
                )
            return data

    class OutputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=["credential", "presentation"])
        verdict = serializers.ChoiceField(choices=list(map(str, HEADLINES)))
        headline = serializers.CharField(help_text="The verdict in two or three words: Valid, Revoked, Expired…")
        reason = serializers.CharField(help_text="A sentence to read aloud.")
        issuer = serializers.CharField(
            allow_null=True,
            help_text="The issuer's DID (for a presentation: of its credential if valid, else the holder's).",
        )
        subject = SubjectSerializer()

        class Meta:
            ref_name = "CredentialVerification"

    @extend_schema(
        operation_id="credentials_verify",
        summary="Verify a credential or a presentation",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(
                ERRORS[400].response,
                description="Not JSON, too large, not a credential or presentation, or an unknown policy.",
            ),
            415: ERRORS[415],
            429: OpenApiResponse(ERRORS[400].response, description="Too many checks from this address or account."),
        },
        examples=[
            OpenApiExample(
                "A presentation",
                request_only=True,
                value={"presentation": {"…": "…"}, "challenge": "from your check", "domain": "shop.example"},
            )
        ],
        description=(
            "Checks the signature, the issuer (did:key, or a did:webvh hosted by this instance), the validity period "
            "and the revocation status, and for a presentation the holder's signature, challenge and domain. Every "
            "check that ran is a 200 with its `verdict`: "
            + ", ".join(f"`{v}`" for v in map(str, HEADLINES))
            + ". `subject` lists "
            + ", ".join(SUBJECT_FIELDS)
            + " when the signature holds."
        ),
    )
    def post(self, request: Request) -> Response:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise ParseError(f"The body is over {MAX_BODY_BYTES // 1024} KiB: a credential is a few kilobytes.")
        try:
            data = request.data
        except RequestDataTooBig:
            raise ParseError(
                f"The body is over {MAX_BODY_BYTES // 1024} KiB: a credential is a few kilobytes."
            ) from None
        serializer = self.InputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data
        policy = None
        if given.get("policy"):
            policy = policy_by_public_id(given["policy"])
            if policy is None:
                raise ValidationError({"policy": ["No such policy."]})
        document = given.get("credential", given.get("presentation"))
        try:
            outcome = verify_document(
                document, challenge=given.get("challenge"), domain=given.get("domain"), policy=policy
            )
        except NotACredential as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        wanted = "credential" if "credential" in given else "presentation"
        if outcome.kind != wanted:
            raise ValidationError({wanted: [f"This is a {outcome.kind}, not a {wanted}."]})
        return Response(
            self.OutputSerializer(
                {
                    "kind": outcome.kind,
                    "verdict": outcome.verdict,
                    "headline": outcome.headline,
                    "reason": outcome.reason,
                    "issuer": outcome.issuer,
                    "subject": outcome.subject,
                }
            ).data
        )
