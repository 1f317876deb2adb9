"""REST API for the tags of the signed-in owner's things. Access is in the selectors (404 for anyone else's)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, Pagination, StrictInputSerializer, TextField, paginated_response
from tags import selectors, services
from tags.models import Tag
from twins.selectors import twin_get


def _route_kwargs(tag: Tag) -> dict:
    return {"slug": tag.twin.slug, "tag_id": tag.pk}


class TagOutputSerializer(serializers.ModelSerializer):
    """A tag as its owner sees it, with what is needed to print it again."""

    code = serializers.CharField(source="display_code", read_only=True, help_text="Short code to type, ABCD-EFGH.")
    url = serializers.CharField(read_only=True, help_text="The URL the QR code carries (secret: it opens the tag).")
    qr_png = serializers.SerializerMethodField(help_text="PNG of the QR code (needs the owner's session or token).")
    qr_svg = serializers.SerializerMethodField(help_text="SVG of the QR code (needs the owner's session or token).")

    class Meta:
        model = Tag
        ref_name = "Tag"
        fields = ("id", "code", "token", "url", "qr_png", "qr_svg", "status", "label", "created_at", "retired_at")
        read_only_fields = fields

    def get_qr_png(self, tag: Tag) -> str:
        return reverse("tag-qr-png", kwargs=_route_kwargs(tag))

    def get_qr_svg(self, tag: Tag) -> str:
        return reverse("tag-qr-svg", kwargs=_route_kwargs(tag))


class TagListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="things_tags_list",
        summary="List a thing's tags",
        responses={200: TagOutputSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
        description="All tags of one thing, retired ones included (see `status`), newest first.",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        queryset = Tag.objects.filter(twin=twin).select_related("twin").order_by("-created_at", "-id")
        return paginated_response(request=request, view=self, queryset=queryset, serializer_class=TagOutputSerializer)


class TagCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        label = TextField(max_length=80, allow_blank=True, required=False, default="", help_text="Your own note.")

        class Meta:
            ref_name = "TagCreate"

    @extend_schema(
        operation_id="things_tags_create",
        summary="Create a tag",
        request=InputSerializer,
        responses={
            201: TagOutputSerializer,
            400: OpenApiResponse(ERRORS[400].response, description="Invalid input, or the thing is archived."),
            404: ERRORS[404],
        },
        description="A new active tag for the thing: print its `url` as a QR code or write it to an NFC chip.",
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        serializer = TagCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tag = services.tag_create(twin=twin, **serializer.validated_data)
        return Response(TagOutputSerializer(tag).data, status=status.HTTP_201_CREATED)


class TagsApi(TagListApi, TagCreateApi):
    # GET lists a thing's tags, POST creates one.
    pass


class TagRetireApi(APIView):
    @extend_schema(
        operation_id="things_tags_retire",
        summary="Retire a tag",
        request=None,
        responses={200: TagOutputSerializer, 404: ERRORS[404]},
        description="Retire a tag for good: its URL then shows nothing of the thing. Retiring twice is fine.",
    )
    def post(self, request: Request, slug: str, tag_id: int) -> Response:
        tag = selectors.tag_for_owner(viewer=request.user, slug=slug, tag_id=tag_id)
        tag = services.tag_retire(tag=tag)
        return Response(TagOutputSerializer(tag).data)
