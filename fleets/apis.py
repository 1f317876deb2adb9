"""REST API of the signed-in owner's groups and who is in them.

One class per operation (twins/apis.py explains the joining classes). Groups are addressed by their number and
looked up among the caller's own (anyone else's is the one 404). A parent or a thing in a body that is not the
caller's is a 400 saying so; nothing is written then.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, IdField, Pagination, StrictInputSerializer, TextField, paginated_response
from fleets import selectors, services
from fleets.models import Group
from twins.models import Twin

MAX_THINGS = 1000


class GroupOutputSerializer(serializers.ModelSerializer):
    parent = serializers.IntegerField(
        source="parent_id", allow_null=True, read_only=True, help_text="The group it is inside, or null."
    )
    path = serializers.CharField(read_only=True, help_text='"Site / Room" or "Herd".')
    member_count = serializers.SerializerMethodField(help_text="Its own things (not archived), not its rooms'.")

    class Meta:
        model = Group
        ref_name = "Group"
        fields = ("id", "name", "path", "parent", "description", "member_count", "created_at")
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField())
    def get_member_count(self, group: Group) -> int:
        count = getattr(group, "member_count", None)
        if count is None:
            count = group.memberships.filter(twin__archived_at__isnull=True).count()
        return count


class MemberOutputSerializer(serializers.ModelSerializer):
    latest_value = serializers.FloatField(allow_null=True, read_only=True)

    class Meta:
        model = Twin
        ref_name = "GroupMember"
        fields = ("slug", "name", "reading_kind", "latest_value", "latest_unit", "latest_at")
        read_only_fields = fields


class MembersChangedSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="How many things joined (or left); the others already were.")
    member_count = serializers.IntegerField()

    class Meta:
        ref_name = "GroupMembersChanged"


def _parent_of(request: Request, raw: int | None) -> Group | None:
    if raw is None:
        return None
    parent = Group.objects.select_related("parent").filter(pk=raw, owner=request.user).first()
    if parent is None:
        raise DjangoValidationError({"parent": "No such group among yours."})
    return parent


def _things_of(request: Request, slugs: list[str]) -> list[Twin]:
    found = list(Twin.objects.filter(owner=request.user, slug__in=set(slugs)))
    if len(found) != len(set(slugs)):
        missing = sorted(set(slugs) - {twin.slug for twin in found})
        raise DjangoValidationError(
            {"things": f"No such thing among yours: {', '.join(missing[:5])}{'…' if len(missing) > 5 else ''}."}
        )
    return found


class GroupFieldsSerializer(StrictInputSerializer):
    name = TextField(max_length=services.NAME_MAX)
    parent = IdField(
        allow_null=True, required=False, help_text="The id of a top-level group it goes inside; null: top."
    )
    description = TextField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True)


class GroupListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="groups_list",
        summary="List your groups (each site followed by its rooms)",
        responses={200: GroupOutputSerializer(many=True), 400: ERRORS[400]},
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.group_list(viewer=request.user),
            serializer_class=GroupOutputSerializer,
        )


class GroupCreateApi(APIView):
    class InputSerializer(GroupFieldsSerializer):
        class Meta:
            ref_name = "GroupCreate"

    @extend_schema(
        operation_id="groups_create",
        summary="Add a group (inside a top-level group at most: groups nest one level)",
        request=InputSerializer,
        responses={201: GroupOutputSerializer, 400: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        serializer = GroupCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        group = services.group_create(
            owner=request.user,
            name=data["name"],
            parent=_parent_of(request, data.get("parent")),
            description=data.get("description", ""),
        )
        return Response(GroupOutputSerializer(group).data, status=status.HTTP_201_CREATED)


class GroupsApi(GroupListApi, GroupCreateApi):
    # GET lists the caller's groups, POST adds one.
    pass


class GroupDetailApi(APIView):
    @extend_schema(
        operation_id="groups_retrieve", summary="Show a group", responses={200: GroupOutputSerializer, 404: ERRORS[404]}
    )
    def get(self, request: Request, group_id: int) -> Response:
        return Response(GroupOutputSerializer(selectors.group_get(viewer=request.user, group_id=group_id)).data)


class GroupUpdateApi(APIView):
    class InputSerializer(GroupFieldsSerializer):
        class Meta:
            ref_name = "GroupUpdate"

    @extend_schema(
        operation_id="groups_partial_update",
        summary="Rename a group, change its description, or move it inside a top-level group (parent null: top)",
        request=InputSerializer,
        responses={200: GroupOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def patch(self, request: Request, group_id: int) -> Response:
        group = selectors.group_get(viewer=request.user, group_id=group_id)
        serializer = GroupUpdateApi.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parent = _parent_of(request, data["parent"]) if "parent" in data else group.parent
        # One transaction: a refused rename must not leave the move behind.
        with transaction.atomic():
            if parent != group.parent:
                services.group_move(group=group, parent=parent)
            if "name" in data or "description" in data:
                services.group_update(group=group, name=data.get("name"), description=data.get("description"))
        return Response(GroupOutputSerializer(group).data)


class GroupDeleteApi(APIView):
    @extend_schema(
        operation_id="groups_destroy",
        summary="Delete a group: its things stay yours; groups inside it move to the top level",
        responses={204: None, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def delete(self, request: Request, group_id: int) -> Response:
        services.group_delete(group=selectors.group_get(viewer=request.user, group_id=group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupApi(GroupDetailApi, GroupUpdateApi, GroupDeleteApi):
    # GET shows a group, PATCH changes it, DELETE removes it.
    pass


class MembersInputSerializer(StrictInputSerializer):
    things = serializers.ListField(
        child=TextField(max_length=32),
        min_length=1,
        max_length=MAX_THINGS,
        help_text=f"Things' slugs, all yours (at most {MAX_THINGS} per call).",
    )

    class Meta:
        ref_name = "GroupMembers"


def _changed(group: Group, changed: int) -> Response:
    count = group.memberships.filter(twin__archived_at__isnull=True).count()
    return Response(MembersChangedSerializer({"changed": changed, "member_count": count}).data)


class GroupMemberListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="groups_members_list",
        summary="The group's own things with their latest reading (a site's rooms' things: /api/things/?group=)",
        responses={200: MemberOutputSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
    )
    def get(self, request: Request, group_id: int) -> Response:
        group = selectors.group_get(viewer=request.user, group_id=group_id)
        return paginated_response(
            request=request,
            view=self,
            queryset=group.twins.filter(archived_at__isnull=True).order_by("name", "id"),
            serializer_class=MemberOutputSerializer,
        )


class GroupMemberAddApi(APIView):
    @extend_schema(
        operation_id="groups_members_add",
        summary="Add things to the group (already-members are skipped; all or none)",
        request=MembersInputSerializer,
        responses={200: MembersChangedSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request, group_id: int) -> Response:
        group = selectors.group_get(viewer=request.user, group_id=group_id)
        serializer = MembersInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        added = services.members_add(group=group, twins=_things_of(request, serializer.validated_data["things"]))
        return _changed(group, added)


class GroupMembersApi(GroupMemberListApi, GroupMemberAddApi):
    # GET lists the group's own things, POST adds things.
    pass


class GroupMembersRemoveApi(APIView):
    @extend_schema(
        operation_id="groups_members_remove",
        summary="Take things out of the group (they stay yours; things not in it are skipped)",
        request=MembersInputSerializer,
        responses={200: MembersChangedSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request, group_id: int) -> Response:
        group = selectors.group_get(viewer=request.user, group_id=group_id)
        serializer = MembersInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        removed = services.members_remove(group=group, twins=_things_of(request, serializer.validated_data["things"]))
        return _changed(group, removed)
