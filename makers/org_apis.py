"""REST API for organisations: `/api/orgs/…`.

Who may call: a member signed in (session) or with their owner token (`Authorization: Token …`), acting as
themselves; or an organisation token (`Authorization: Bearer org_…`), acting for its one organisation
(makers.tokens). `organisation_for_request` is the one check: anyone else gets the one 404. An organisation token
may read the organisation and its members and tokens, but changing people, keys or tokens needs a person who is an
admin (403 otherwise): a leaked token cannot lock the admins out or mint more tokens.

Joining classes carry a comment, not a docstring (drf-spectacular would show it for both operations).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, Pagination, StrictInputSerializer, TextField, paginated_response
from makers import orgs
from makers.access import NotAllowed, membership_of, organisations_of
from makers.models import Membership, Organisation, OrganisationToken
from makers.tokens import AUTHENTICATION_CLASSES, organisation_for_request

FORBIDDEN = OpenApiResponse(
    ERRORS[400].response,
    description="A member where an admin is needed, or an organisation token where a person is needed.",
)
CONFLICT = OpenApiResponse(ERRORS[400].response, description="The organisation would be left without an admin.")
UNAUTHORIZED = OpenApiResponse(ERRORS[400].response, description="No credentials, or an unknown or revoked token.")


class OrgApiView(APIView):
    """Organisation API plumbing: both kinds of credentials, and a member's NotAllowed as a 403."""

    authentication_classes = AUTHENTICATION_CLASSES

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, NotAllowed):
            exc = exceptions.PermissionDenied(str(exc))
        return super().handle_exception(exc)


def _person(request: Request, what: str) -> None:
    if isinstance(request.auth, OrganisationToken):
        raise exceptions.PermissionDenied(
            f"An organisation token cannot {what}: sign in (or use your own token) as an admin of the organisation."
        )


# --- Organisations ------------------------------------------------------------------------------------------


class OrganisationOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="slug", read_only=True, help_text="The organisation's address (slug).")
    url = serializers.SerializerMethodField(help_text="Its public profile page.")
    did_log_url = serializers.SerializerMethodField(help_text="Its did:webvh log (did.jsonl).")
    role = serializers.SerializerMethodField(help_text="The caller's role; null for an organisation token.")
    # Plain text out: either may be empty, which a "uri" format would not allow.
    website = serializers.CharField(read_only=True, help_text="Its website, or empty.")
    support_url = serializers.CharField(read_only=True, help_text="Where owners get support, or empty.")

    class Meta:
        model = Organisation
        ref_name = "Organisation"
        fields = ("id", "url", "name", "kind", "description", "website", "support_url", "did", "did_log_url", "role")
        read_only_fields = fields

    def get_url(self, organisation: Organisation) -> str:
        return settings.SITE_URL + reverse("organisation", args=[organisation.slug])

    def get_did_log_url(self, organisation: Organisation) -> str:
        return settings.SITE_URL + reverse("organisation-did-log", args=[organisation.slug])

    def get_role(self, organisation: Organisation) -> str | None:
        request = self.context.get("request")
        if request is None or isinstance(request.auth, OrganisationToken):
            return None
        membership = membership_of(request.user, organisation)
        return membership.role if membership else None


class OrganisationListApi(OrgApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="orgs_list",
        summary="List your organisations",
        description="With an organisation token: that organisation only.",
        responses={200: OrganisationOutputSerializer(many=True), 400: ERRORS[400], 401: UNAUTHORIZED},
    )
    def get(self, request: Request) -> Response:
        if isinstance(request.auth, OrganisationToken):
            queryset = Organisation.objects.filter(pk=request.auth.organisation_id)
        else:
            queryset = organisations_of(request.user)
        return paginated_response(
            request=request, view=self, queryset=queryset, serializer_class=OrganisationOutputSerializer
        )


class OrganisationCreateApi(OrgApiView):
    class InputSerializer(StrictInputSerializer):
        slug = TextField(max_length=60, help_text=orgs.SLUG_HELP)
        name = TextField(max_length=120)
        kind = serializers.ChoiceField(choices=Organisation.Kind.choices, required=False)
        description = TextField(max_length=2000, allow_blank=True, required=False)
        website = serializers.URLField(max_length=500, allow_blank=True, required=False)
        support_url = serializers.URLField(max_length=500, allow_blank=True, required=False)

        class Meta:
            ref_name = "OrganisationCreate"

    @extend_schema(
        operation_id="orgs_create",
        summary="Create an organisation (you become its admin; it gets its own did:webvh DID)",
        request=InputSerializer,
        responses={201: OrganisationOutputSerializer, 400: ERRORS[400], 401: UNAUTHORIZED, 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        _person(request, "create organisations")
        serializer = OrganisationCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organisation = orgs.organisation_create(
            slug=data.pop("slug"), name=data.pop("name"), admin=request.user, **data
        )
        return Response(
            OrganisationOutputSerializer(organisation, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class OrganisationsApi(OrganisationListApi, OrganisationCreateApi):
    # GET lists the caller's organisations, POST creates one.
    pass


class OrganisationApi(OrgApiView):
    @extend_schema(
        operation_id="orgs_retrieve",
        summary="Show an organisation",
        responses={200: OrganisationOutputSerializer, 401: UNAUTHORIZED, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug)
        return Response(OrganisationOutputSerializer(organisation, context={"request": request}).data)


# --- Members ------------------------------------------------------------------------------------------------


class MemberOutputSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="owner.username", read_only=True)

    class Meta:
        model = Membership
        ref_name = "OrganisationMember"
        fields = ("id", "username", "role", "created_at")
        read_only_fields = fields


class InvitationOutputSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="The invitation link. Shown once: only its hash is kept.")
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    email = serializers.CharField(help_text="Whom it is for (a note; no mail is sent), or empty.")
    expires_at = serializers.DateTimeField()

    class Meta:
        ref_name = "OrganisationInvitation"


class MemberListApi(OrgApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="orgs_members_list",
        summary="List the members and their roles",
        responses={200: MemberOutputSerializer(many=True), 401: UNAUTHORIZED, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug)
        return paginated_response(
            request=request, view=self, queryset=orgs.members_of(organisation), serializer_class=MemberOutputSerializer
        )


class InvitationCreateApi(OrgApiView):
    class InputSerializer(StrictInputSerializer):
        role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
        email = serializers.EmailField(max_length=254, allow_blank=True, required=False)

        class Meta:
            ref_name = "OrganisationInvitationCreate"

    @extend_schema(
        operation_id="orgs_members_invite",
        summary="Invite a member: a single-use link, valid 7 days (admins)",
        request=InputSerializer,
        responses={
            201: InvitationOutputSerializer,
            400: ERRORS[400],
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: ERRORS[404],
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug, admin=True)
        _person(request, "invite members")
        serializer = InvitationCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, invitation = orgs.invitation_create(
            organisation=organisation, by=request.user, **serializer.validated_data
        )
        data = {
            "url": settings.SITE_URL + reverse("organisation-join", args=[token]),
            "role": invitation.role,
            "email": invitation.email,
            "expires_at": invitation.expires_at,
        }
        return Response(InvitationOutputSerializer(data).data, status=status.HTTP_201_CREATED)


class MembersApi(MemberListApi, InvitationCreateApi):
    # GET lists the members, POST makes an invitation link.
    pass


class MemberRoleApi(OrgApiView):
    class InputSerializer(StrictInputSerializer):
        role = serializers.ChoiceField(choices=Membership.Role.choices)

        class Meta:
            ref_name = "OrganisationMemberRole"

    @extend_schema(
        operation_id="orgs_members_partial_update",
        summary="Change a member's role (admins; the last admin cannot be demoted)",
        request=InputSerializer,
        responses={
            200: MemberOutputSerializer,
            400: ERRORS[400],
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: ERRORS[404],
            409: CONFLICT,
        },
    )
    def patch(self, request: Request, slug: str, member_id: int) -> Response:
        organisation = organisation_for_request(request, slug, admin=True)
        _person(request, "change roles")
        serializer = MemberRoleApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = orgs.member_role_set(
            organisation=organisation, member_id=member_id, role=serializer.validated_data["role"], by=request.user
        )
        return Response(MemberOutputSerializer(membership).data)


class MemberRemoveApi(OrgApiView):
    @extend_schema(
        operation_id="orgs_members_destroy",
        summary="Remove a member (admins), or leave (your own membership)",
        request=None,
        responses={204: None, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: ERRORS[404], 409: CONFLICT},
    )
    def delete(self, request: Request, slug: str, member_id: int) -> Response:
        organisation = organisation_for_request(request, slug)
        _person(request, "remove members")
        orgs.member_remove(organisation=organisation, member_id=member_id, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberApi(MemberRoleApi, MemberRemoveApi):
    # PATCH changes a member's role, DELETE removes the member.
    pass


# --- Keys ---------------------------------------------------------------------------------------------------


class KeysOutputSerializer(serializers.Serializer):
    did = serializers.CharField()
    version_number = serializers.IntegerField(help_text="The DID log's version after the rotation.")
    version_id = serializers.CharField()
    update_keys = serializers.ListField(child=serializers.CharField(), help_text="The revealed key, now current.")
    next_key_hashes = serializers.ListField(child=serializers.CharField(), help_text="The fresh next key's hash.")

    class Meta:
        ref_name = "OrganisationKeys"


class KeysRotateApi(OrgApiView):
    @extend_schema(
        operation_id="orgs_keys_rotate",
        summary="Rotate the organisation's update keys (admins)",
        description=(
            "Appends a did:webvh log entry signed by the pre-committed next key, which becomes the update key, and "
            "commits to a fresh next key. Things produced earlier can still be handed over."
        ),
        request=None,
        responses={200: KeysOutputSerializer, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: ERRORS[404]},
    )
    def post(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug, admin=True)
        _person(request, "rotate the organisation's keys")
        state = orgs.organisation_keys_rotate(organisation=organisation, by=request.user)
        data = {
            "did": state.did,
            "version_number": state.version_number,
            "version_id": state.version_id,
            "update_keys": list(state.update_keys),
            "next_key_hashes": list(state.next_key_hashes),
        }
        return Response(KeysOutputSerializer(data).data)


# --- Tokens -------------------------------------------------------------------------------------------------


class TokenOutputSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(read_only=True, help_text="The token's first characters (never the token).")

    class Meta:
        model = OrganisationToken
        ref_name = "OrganisationToken"
        fields = ("id", "prefix", "label", "created_at", "last_used_at", "revoked_at")
        read_only_fields = fields


class TokenCreatedSerializer(TokenOutputSerializer):
    token = serializers.SerializerMethodField(help_text="The token. Shown in this response only: copy it now.")

    class Meta(TokenOutputSerializer.Meta):
        ref_name = "OrganisationTokenCreated"
        fields = (*TokenOutputSerializer.Meta.fields, "token")
        read_only_fields = fields

    def get_token(self, row: OrganisationToken) -> str:
        return self.context["token"]


class TokenListApi(OrgApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="orgs_tokens_list",
        summary="List the organisation's API tokens (prefix and label; never the token)",
        responses={200: TokenOutputSerializer(many=True), 401: UNAUTHORIZED, 403: FORBIDDEN, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug, admin=True)
        return paginated_response(
            request=request, view=self, queryset=orgs.tokens_of(organisation), serializer_class=TokenOutputSerializer
        )


class TokenCreateApi(OrgApiView):
    class InputSerializer(StrictInputSerializer):
        label = TextField(max_length=80, allow_blank=True, required=False)

        class Meta:
            ref_name = "OrganisationTokenCreate"

    @extend_schema(
        operation_id="orgs_tokens_create",
        summary="Make an organisation API token (admins); the token is in this response only",
        request=InputSerializer,
        responses={
            201: TokenCreatedSerializer,
            400: ERRORS[400],
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: ERRORS[404],
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        organisation = organisation_for_request(request, slug, admin=True)
        _person(request, "make tokens")
        serializer = TokenCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, row = orgs.token_issue(organisation=organisation, by=request.user, **serializer.validated_data)
        return Response(TokenCreatedSerializer(row, context={"token": token}).data, status=status.HTTP_201_CREATED)


class TokensApi(TokenListApi, TokenCreateApi):
    # GET lists the tokens, POST makes one.
    pass


class TokenApi(OrgApiView):
    @extend_schema(
        operation_id="orgs_tokens_destroy",
        summary="Revoke an organisation API token (admins)",
        request=None,
        responses={204: None, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: ERRORS[404]},
    )
    def delete(self, request: Request, slug: str, token_id: int) -> Response:
        organisation = organisation_for_request(request, slug, admin=True)
        _person(request, "revoke tokens")
        orgs.token_revoke(organisation=organisation, token_id=token_id, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
