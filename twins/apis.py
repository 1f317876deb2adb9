"""REST API for the signed-in owner's things, readings and journal.

One class per operation with nested Input/Output serializers. Where two operations share a URL
(`GET` lists, `POST` creates) a small class joins them; each method therefore names its serializers
through its own class (`ThingCreateApi.InputSerializer`), never through `self`. Joining classes carry a
comment rather than a docstring: drf-spectacular would show a docstring as both operations' description.

Access is in the selectors: `twin_get` answers 404 for anyone else's thing, and it runs before the body
is read, so a stranger learns nothing from validation errors either. The readings and journal routes ask for a
capability (twins.access) rather than ownership, so a keeper or a service party holding it may use them; every
other route, the thing itself included (it carries the owner's contact fields), stays the owner's.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import (
    ERRORS,
    AwareDateTimeField,
    NumberField,
    Pagination,
    StrictBooleanField,
    StrictInputSerializer,
    TextField,
    paginated_response,
)
from twins import access, downsample, listing, selectors, services
from twins.models import ICONS, JournalNote, Reading, Twin

# --- Things -------------------------------------------------------------------------------------------------


class LatestReadingSerializer(serializers.Serializer):
    value = serializers.FloatField()
    unit = serializers.CharField()
    time = serializers.DateTimeField()

    class Meta:
        ref_name = "LatestReading"


class ThingOutputSerializer(serializers.ModelSerializer):
    """A thing as its owner sees it. No owner fields: the API only ever shows the caller's own things."""

    id = serializers.CharField(source="slug", read_only=True, help_text="Public id (128 random bits).")
    url = serializers.SerializerMethodField()
    photo_url = serializers.SerializerMethodField()
    latest = serializers.SerializerMethodField()
    # Empty until the owner fills it in: "" is not an email, so the schema must not promise the email format.
    contact_email = serializers.CharField(read_only=True, help_text="An email address, or empty.")

    class Meta:
        model = Twin
        ref_name = "Thing"
        fields = (
            "id",
            "url",
            "name",
            "icon",
            "model_name",
            "serial",
            "description",
            "attributes",
            "reading_kind",
            "reading_unit",
            "latest",
            "photo_url",
            "use_profile_contact",
            *Twin.CONTACT_FIELDS,
            "show_thing_name",
            "show_photo",
            "show_description",
            "lost",
            "lost_reward",
            "lost_since",
            "created_at",
            "updated_at",
            "archived_at",
        )
        read_only_fields = fields

    def get_url(self, twin: Twin) -> str:
        return reverse("api-thing", kwargs={"slug": twin.slug})

    def get_photo_url(self, twin: Twin) -> str | None:
        return reverse("thing-photo", kwargs={"slug": twin.slug}) if twin.photo else None

    @extend_schema_field(LatestReadingSerializer(allow_null=True))
    def get_latest(self, twin: Twin) -> dict | None:
        if twin.latest_at is None:
            return None
        return {"value": twin.latest_value, "unit": twin.latest_unit, "time": twin.latest_at}


class ThingListItemSerializer(ThingOutputSerializer):
    role = serializers.SerializerMethodField(help_text='"owner": the caller\'s own thing.')
    tag_count = serializers.IntegerField(read_only=True, help_text="Active tags.")

    class Meta(ThingOutputSerializer.Meta):
        ref_name = "ThingListItem"
        fields = ("role", *ThingOutputSerializer.Meta.fields, "tag_count")
        read_only_fields = fields

    def get_role(self, twin: Twin) -> str:
        return access.OWNER


class KeptThingSerializer(serializers.Serializer):
    """A thing another owner lets the caller act on (a keeper or service credential): what its page shows them,
    never the owner's contact data, public page settings or tags. `latest` only with `readings.read`."""

    role = serializers.ChoiceField(
        choices=["keeper", "service"], read_only=True, help_text="Why the caller may see it: its credential."
    )
    id = serializers.CharField(source="slug", read_only=True, help_text="Public id (128 random bits).")
    name = serializers.CharField(read_only=True)
    icon = serializers.CharField(read_only=True)
    model_name = serializers.CharField(read_only=True)
    serial = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    attributes = serializers.DictField(read_only=True)
    reading_kind = serializers.CharField(read_only=True)
    reading_unit = serializers.CharField(read_only=True)
    latest = serializers.SerializerMethodField()
    photo_url = serializers.SerializerMethodField()
    readings_url = serializers.SerializerMethodField(help_text="With readings.read or readings.write, else null.")
    allows = serializers.SerializerMethodField(help_text="What the credential allows now (twins.access capabilities).")

    class Meta:
        ref_name = "KeptThing"

    def to_representation(self, twin: Twin) -> dict:
        return {**super().to_representation(twin), "role": twin.access.role}

    @extend_schema_field(LatestReadingSerializer(allow_null=True))
    def get_latest(self, twin: Twin) -> dict | None:
        if twin.latest_at is None or not twin.access.can(access.READINGS_READ):
            return None
        return {"value": twin.latest_value, "unit": twin.latest_unit, "time": twin.latest_at}

    def get_photo_url(self, twin: Twin) -> str | None:
        return reverse("thing-photo", kwargs={"slug": twin.slug}) if twin.photo else None

    def get_readings_url(self, twin: Twin) -> str | None:
        if not (twin.access.can(access.READINGS_READ) or twin.access.can(access.READINGS_WRITE)):
            return None
        return reverse("api-readings", kwargs={"slug": twin.slug})

    def get_allows(self, twin: Twin) -> list[str]:
        return sorted(twin.access.capabilities)


def _list_rows(twins, viewer) -> list[dict]:
    """The rows of one page: the caller's own things serialized together (one serializer for the page, not one
    built per row), the kept ones each as _list_entry says, in the page's order."""
    twins = list(twins)
    owned = iter(
        ThingListItemSerializer([twin for twin in twins if not getattr(twin, "access_role", "")], many=True).data
    )
    rows = []
    for twin in twins:
        row = next(owned) if not getattr(twin, "access_role", "") else _list_entry(twin, viewer)
        if row is not None:
            rows.append(row)
    return rows


def _list_entry(twin: Twin, viewer) -> dict | None:
    """One row of the things list: the caller's own thing in full; a kept one reduced to what their credential
    lets them see, asked now (None: it stopped between the listing and this question)."""
    if not getattr(twin, "access_role", ""):
        return ThingListItemSerializer(twin).data
    twin.access = access.access_for(viewer, twin)
    if twin.access is None or not twin.access.can(access.VIEW):
        return None
    return KeptThingSerializer(twin).data


class ThingFieldsSerializer(StrictInputSerializer):
    """What an owner may set on a thing (shared by create and update)."""

    name = TextField(max_length=120)
    icon = serializers.ChoiceField(choices=Twin._meta.get_field("icon").choices, required=False)
    model_name = TextField(max_length=120, allow_blank=True, required=False)
    serial = TextField(max_length=120, allow_blank=True, required=False)
    description = TextField(max_length=2000, allow_blank=True, required=False)
    attributes = serializers.DictField(
        required=False, help_text="A flat object of names to text or number values (at most 50)."
    )
    reading_kind = TextField(max_length=40, required=False, help_text="Kind logged when a reading gives none.")
    reading_unit = TextField(max_length=20, allow_blank=True, required=False, help_text="Default unit.")


class ThingListSchema(AutoSchema):
    """The things list's query parameters include the features' filters (twins.listing: ?label=, ?location=),
    registered once every app is ready: read when the schema is made, not when this module is imported."""

    def get_override_parameters(self) -> list:
        parameters = super().get_override_parameters()
        if self.method != "GET":
            return parameters
        extra = [OpenApiParameter(item.param, str, description=item.help_text) for item in listing.filters()]
        return [*parameters, *extra]


class ThingPagination(Pagination):
    """limit/offset with `count`; the keyset page (`?cursor=`) answers the same shape without `count`."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paged = super().get_paginated_response_schema(schema)
        paged["required"] = [name for name in paged.get("required", []) if name != "count"]
        return paged


class ThingListApi(APIView):
    pagination_class = ThingPagination
    schema = ThingListSchema()

    class FilterSerializer(serializers.Serializer):
        q = TextField(
            max_length=120,
            required=False,
            help_text="Part of the name, serial or model (and, with the inventory feature, of an attribute value or a "
            "journal note).",
        )
        # Left out: lost and found alike (a query parameter cannot be null, so the schema offers only true/false).
        lost = serializers.BooleanField(required=False, default=None, help_text="Only lost (true) or found (false).")
        archived = serializers.BooleanField(required=False, default=False, help_text="List archived things.")
        attr = serializers.ListField(
            child=TextField(max_length=600),
            required=False,
            help_text="An attribute filter, repeatable (all must hold): `colour=red` (exact text), `colour!=red` "
            "(also things without a colour), `weight>20`, `weight>=20`, `weight<3.5`, `weight<=3.5` (numbers: "
            "values that read as numbers), or `colour` (has one). Several may also be given in one, split by `;`.",
        )
        kind = serializers.ChoiceField(choices=list(ICONS), required=False, help_text="The thing's kind (its icon).")
        model = TextField(max_length=120, required=False, help_text="The model, whole, ignoring case.")
        name = TextField(max_length=120, required=False, help_text="Part of the name, ignoring case.")
        seen_after = TextField(
            max_length=40,
            required=False,
            help_text="Last seen (its latest reading) at or after this day or time: 2026-01-31 or "
            "2026-01-31T08:00:00Z. Things never seen are left out.",
        )
        seen_before = TextField(max_length=40, required=False, help_text="Last seen before this day or time.")
        sort = serializers.ChoiceField(
            choices=list(selectors.SORTS),
            required=False,
            default="name",
            help_text="name, -name, latest (oldest reading first, never read first), -latest (newest first, never "
            "read last); seen/-seen are the same as latest/-latest. Ties are broken by creation (id).",
        )
        cursor = TextField(
            max_length=1000,
            required=False,
            allow_blank=True,
            help_text="Keyset paging: give `cursor` (empty for the first page) and follow `next`/`previous`, which "
            "carry the cursor of the page either side. Every page costs the same however deep, and a thing added "
            "meanwhile never shifts the pages. The answer then has no `count`. Without `cursor`: limit/offset.",
        )

        class Meta:
            ref_name = "ThingFilter"

    @extend_schema(
        operation_id="things_list",
        summary="List your things, and those you keep or service",
        description=(
            'Your own things (`role` "owner") and, among them in the sort order, the things other owners let you act '
            'on with a keeper or service credential (`role` "keeper" or "service"): those carry only what the '
            "credential lets you see (no owner contact data, public page settings or tags; `latest` only if it "
            "allows reading), and `allows` lists what it allows. A service access that does not allow opening "
            "the thing's page is not listed. Only your own things can be changed through /api/things/{id}/. "
            "Pages by limit/offset (with `count`), or by keyset with `cursor` (without `count`)."
        ),
        parameters=[FilterSerializer],
        responses={
            200: PolymorphicProxySerializer(
                component_name="ThingListEntry",
                serializers={
                    "owner": ThingListItemSerializer,
                    "keeper": KeptThingSerializer,
                    "service": KeptThingSerializer,
                },
                resource_type_field_name="role",
                many=True,
            ),
            400: ERRORS[400],
        },
    )
    def get(self, request: Request) -> Response:
        # One page's work, as on the cards page: a search's planner estimate asked once and its sets of ids (a
        # search's, a filter's) gathered once (twins.listing.gathered), then fetched by primary key when few.
        with listing.one_request():
            return self._list(request)

    def _list(self, request: Request) -> Response:
        query = request.query_params
        params = ThingListApi.FilterSerializer(
            data={**query.dict(), "attr": query.getlist("attr")} if "attr" in query else query.dict()
        )
        params.is_valid(raise_exception=True)
        # One parser for every list (the cards page's, a selection's); the serializer above checked the types.
        filters = dataclasses.replace(
            selectors.TwinFilters.from_params(query),
            lost=params.validated_data["lost"],
            archived=params.validated_data["archived"],
        )
        if "cursor" in query:
            if "offset" in query:
                raise serializers.ValidationError({"cursor": ["Page by cursor or by offset, not both."]})
            return _cursor_page(request, filters, params.validated_data["cursor"])
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.twin_list(viewer=request.user, filters=filters, include_kept=True), request, view=self
        )
        return paginator.get_paginated_response(_list_rows(page, request.user))


def _cursor_page(request: Request, filters: selectors.TwinFilters, cursor: str) -> Response:
    """A keyset page: {"next", "previous", "results"} (the limit/offset answer without `count`)."""
    size = Pagination().get_limit(request)
    page = selectors.twin_page(viewer=request.user, filters=filters, cursor=cursor, size=size, include_kept=True)

    def link(position: str) -> str | None:
        if not position:
            return None
        return request.build_absolute_uri("?" + urlencode([*_without(request, "cursor"), ("cursor", position)]))

    return Response(
        {
            "next": link(page.next_cursor),
            "previous": link(page.previous_cursor),
            "results": _list_rows(page, request.user),
        }
    )


def _without(request: Request, name: str) -> list[tuple[str, str]]:
    return [(key, value) for key, values in request.query_params.lists() if key != name for value in values]


class ThingCreateApi(APIView):
    class InputSerializer(ThingFieldsSerializer):
        class Meta:
            ref_name = "ThingCreate"

    @extend_schema(
        operation_id="things_create",
        summary="Add a thing",
        request=InputSerializer,
        responses={201: ThingOutputSerializer, 400: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        serializer = ThingCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        twin = services.twin_create(owner=request.user, **serializer.validated_data)
        return Response(ThingOutputSerializer(twin).data, status=status.HTTP_201_CREATED)


class ThingsApi(ThingListApi, ThingCreateApi):
    # GET lists the caller's things, POST creates one.
    pass


class ThingDetailApi(APIView):
    @extend_schema(
        operation_id="things_retrieve", summary="Show a thing", responses={200: ThingOutputSerializer, 404: ERRORS[404]}
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        return Response(ThingOutputSerializer(twin).data)


class ThingUpdateApi(APIView):
    class InputSerializer(ThingFieldsSerializer):
        use_profile_contact = StrictBooleanField(required=False)
        contact_name = TextField(max_length=100, allow_blank=True, required=False)
        contact_email = serializers.EmailField(max_length=254, allow_blank=True, required=False)
        contact_phone = TextField(max_length=40, allow_blank=True, required=False)
        contact_message = TextField(max_length=1000, allow_blank=True, required=False)
        show_name = StrictBooleanField(required=False)
        show_email = StrictBooleanField(required=False)
        show_phone = StrictBooleanField(required=False)
        show_message = StrictBooleanField(required=False)
        show_thing_name = StrictBooleanField(required=False)
        show_photo = StrictBooleanField(required=False)
        show_description = StrictBooleanField(required=False)
        lost = StrictBooleanField(required=False, help_text="Lost mode: the public page asks finders for help.")
        lost_reward = TextField(max_length=200, allow_blank=True, required=False)

        class Meta:
            ref_name = "ThingUpdate"

    @extend_schema(
        operation_id="things_partial_update",
        summary="Change a thing (name, attributes, public page, lost mode)",
        request=InputSerializer,
        responses={200: ThingOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def patch(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        serializer = ThingUpdateApi.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        lost = fields.pop("lost", None)
        reward = fields.pop("lost_reward", None)
        # Two services, one outcome: a refused lost-mode change must not leave a rename behind.
        with transaction.atomic():
            services.twin_update(twin=twin, **fields)
            if lost is not None or reward is not None:
                services.twin_set_lost(
                    twin=twin,
                    lost=twin.lost if lost is None else lost,
                    reward=twin.lost_reward if reward is None else reward,
                )
        return Response(ThingOutputSerializer(twin).data)


class ThingApi(ThingDetailApi, ThingUpdateApi):
    # GET shows one thing, PATCH changes it.
    pass


def _set_archived(request: Request, slug: str, *, archived: bool) -> Response:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    services.twin_set_archived(twin=twin, archived=archived)
    return Response(ThingOutputSerializer(twin).data)


class ThingArchiveApi(APIView):
    @extend_schema(
        operation_id="things_archive",
        summary="Archive a thing",
        description="Hides it from the list and its tags from finders; nothing is deleted.",
        request=None,
        responses={200: ThingOutputSerializer, 404: ERRORS[404]},
    )
    def post(self, request: Request, slug: str) -> Response:
        return _set_archived(request, slug, archived=True)


class ThingUnarchiveApi(APIView):
    @extend_schema(
        operation_id="things_unarchive",
        summary="Restore an archived thing",
        request=None,
        responses={200: ThingOutputSerializer, 404: ERRORS[404]},
    )
    def post(self, request: Request, slug: str) -> Response:
        return _set_archived(request, slug, archived=False)


class ThingPhotoApi(APIView):
    parser_classes = [MultiPartParser]

    class InputSerializer(StrictInputSerializer):
        photo = serializers.FileField(help_text="JPEG, PNG, WebP or GIF. Stored re-encoded, without metadata.")

        class Meta:
            ref_name = "ThingPhoto"

    @extend_schema(
        operation_id="things_photo_update",
        summary="Set the photo",
        request={"multipart/form-data": InputSerializer},
        responses={200: ThingOutputSerializer, 400: ERRORS[400], 404: ERRORS[404], 415: ERRORS[415]},
    )
    def put(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        serializer = ThingPhotoApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.twin_set_photo(twin=twin, photo=serializer.validated_data["photo"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"photo": exc.messages}) from exc
        return Response(ThingOutputSerializer(twin).data)

    @extend_schema(
        operation_id="things_photo_destroy", summary="Remove the photo", responses={204: None, 404: ERRORS[404]}
    )
    def delete(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        services.twin_set_photo(twin=twin, photo=None)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Readings -----------------------------------------------------------------------------------------------


class ReadingOutputSerializer(serializers.ModelSerializer):
    device_signed = serializers.BooleanField(
        read_only=True, help_text="Signed by a registered device key of the thing (see `signature`)."
    )
    device_key = serializers.CharField(read_only=True, help_text="The device's Ed25519 Multikey (z6Mk…), or empty.")
    signature = serializers.CharField(
        read_only=True, help_text="Detached Ed25519 signature (multibase) over the JCS form of `signed_content`."
    )
    signed_content = serializers.JSONField(
        read_only=True, allow_null=True, help_text="The object the device signed, exactly as it sent it."
    )

    class Meta:
        model = Reading
        ref_name = "Reading"
        fields = (
            "id",
            "kind",
            "value",
            "unit",
            "time",
            "source",
            "note",
            "created_at",
            "device_signed",
            "device_key",
            "signature",
            "signed_content",
        )
        read_only_fields = fields


class ReadingListApi(APIView):
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        kind = TextField(max_length=40, required=False, help_text="Only this kind, e.g. `glucose`.")
        since = AwareDateTimeField(required=False, help_text="Readings at or after this time (ISO 8601, with zone).")
        until = AwareDateTimeField(required=False, help_text="Readings before this time (ISO 8601, with zone).")

        class Meta:
            ref_name = "ReadingFilter"

    @extend_schema(
        operation_id="things_readings_list",
        summary="List readings",
        parameters=[FilterSerializer],
        responses={200: ReadingOutputSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
        description="Readings of one thing, newest first.",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.READINGS_READ)
        params = ReadingListApi.FilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.reading_list(
                twin=twin, kind=data.get("kind", ""), since=data.get("since"), until=data.get("until")
            ),
            serializer_class=ReadingOutputSerializer,
        )


class ReadingCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        value = NumberField(help_text="The measurement, a finite number.")
        kind = TextField(
            max_length=40, required=False, help_text="Defaults to the thing's `reading_kind` (its one-tap reading)."
        )
        unit = TextField(
            max_length=20, allow_blank=True, required=False, help_text="Defaults to the thing's `reading_unit`."
        )
        time = AwareDateTimeField(
            required=False, help_text="ISO 8601 with a time zone; defaults to now. At most 5 minutes ahead."
        )
        note = TextField(max_length=200, allow_blank=True, required=False, default="")

        class Meta:
            ref_name = "ReadingCreate"

    @extend_schema(
        operation_id="things_readings_create",
        summary="Log a reading",
        request=InputSerializer,
        responses={201: ReadingOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
        description=(
            "Log one reading. Only `value` is required: by default a reading is the thing's own kind and unit "
            "(`reading_kind`, `reading_unit`, as set on the thing) taken now, so a grinder whose reading kind is "
            '`grind` in `setting` logs `{"value": 12}` as 12 setting of grind. Give `kind`, `unit` or `time` '
            "to log anything else. A reading of the thing's own kind moves its `latest` unless it is older."
        ),
        examples=[
            OpenApiExample("Default kind and unit, now", value={"value": 12}, request_only=True),
            OpenApiExample(
                "Everything given",
                value={"value": 5.4, "kind": "glucose", "unit": "mmol/L", "time": "2026-01-31T08:00:00Z", "note": ""},
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.READINGS_WRITE)
        serializer = ReadingCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reading = services.reading_add(
            twin=twin, source=Reading.Source.API, by=request.user, **serializer.validated_data
        )
        return Response(ReadingOutputSerializer(reading).data, status=status.HTTP_201_CREATED)


class ReadingsApi(ReadingListApi, ReadingCreateApi):
    # GET lists readings, POST logs one.
    pass


# --- Journal ------------------------------------------------------------------------------------------------


class NoteOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = JournalNote
        ref_name = "JournalNote"
        fields = ("id", "title", "text", "time", "created_at", "updated_at")
        read_only_fields = fields


class NoteListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="things_journal_list",
        summary="List journal notes",
        responses={200: NoteOutputSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
        description="Journal notes of one thing, newest first.",
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.JOURNAL_READ)
        return paginated_response(
            request=request,
            view=self,
            queryset=JournalNote.objects.filter(twin=twin).order_by("-time", "-id"),
            serializer_class=NoteOutputSerializer,
        )


class NoteFieldsSerializer(StrictInputSerializer):
    title = TextField(max_length=200)
    text = TextField(max_length=10000, allow_blank=True, required=False)
    time = AwareDateTimeField(required=False, help_text="ISO 8601 with a time zone; defaults to now.")


class NoteCreateApi(APIView):
    class InputSerializer(NoteFieldsSerializer):
        class Meta:
            ref_name = "JournalNoteCreate"

    @extend_schema(
        operation_id="things_journal_create",
        summary="Add a journal note",
        request=InputSerializer,
        responses={201: NoteOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.JOURNAL_WRITE)
        serializer = NoteCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = services.note_create(twin=twin, by=request.user, **serializer.validated_data)
        return Response(NoteOutputSerializer(note).data, status=status.HTTP_201_CREATED)


class NotesApi(NoteListApi, NoteCreateApi):
    # GET lists the journal, POST adds a note.
    pass


class NoteDetailApi(APIView):
    @extend_schema(
        operation_id="things_journal_retrieve",
        summary="Show a journal note",
        responses={200: NoteOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str, note_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.JOURNAL_READ)
        note = selectors.note_get(twin=twin, note_id=note_id)
        return Response(NoteOutputSerializer(note).data)


class NoteUpdateApi(APIView):
    class InputSerializer(NoteFieldsSerializer):
        class Meta:
            ref_name = "JournalNoteUpdate"

    @extend_schema(
        operation_id="things_journal_partial_update",
        summary="Change a journal note",
        request=InputSerializer,
        responses={200: NoteOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def patch(self, request: Request, slug: str, note_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.JOURNAL_WRITE)
        note = selectors.note_get(twin=twin, note_id=note_id)
        serializer = NoteUpdateApi.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        note = services.note_update(note=note, **serializer.validated_data)
        return Response(NoteOutputSerializer(note).data)


class NoteDeleteApi(APIView):
    @extend_schema(
        operation_id="things_journal_destroy", summary="Delete a journal note", responses={204: None, 404: ERRORS[404]}
    )
    def delete(self, request: Request, slug: str, note_id: int) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        services.note_delete(note=selectors.note_get(twin=twin, note_id=note_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class NoteApi(NoteDetailApi, NoteUpdateApi, NoteDeleteApi):
    # GET shows a note, PATCH changes it, DELETE removes it.
    pass


# --- Downsampled series -------------------------------------------------------------------------------------


class SeriesBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Start of the bucket (inclusive).")
    end = serializers.DateTimeField(help_text="End of the bucket (exclusive).")
    count = serializers.IntegerField(help_text="Readings in the bucket.")
    min = serializers.FloatField()
    avg = serializers.FloatField()
    max = serializers.FloatField()

    class Meta:
        ref_name = "SeriesBucket"


class ReadingSeriesApi(APIView):
    class FilterSerializer(serializers.Serializer):
        kind = TextField(max_length=40, required=False, help_text="Defaults to the thing's `reading_kind`.")
        # `from` is a Python keyword: declared through the class namespace.
        locals()["from"] = AwareDateTimeField(
            required=False, help_text="Start of the range, inclusive (ISO 8601 with zone); default 30 days before `to`."
        )
        to = AwareDateTimeField(required=False, help_text="End of the range, exclusive. Default: now.")
        buckets = serializers.IntegerField(
            min_value=1, max_value=downsample.MAX_BUCKETS, default=200, help_text="Number of equal time slices."
        )

        class Meta:
            ref_name = "ReadingSeriesFilter"

        def validate(self, data):
            end = data.get("to") or timezone.now()
            start = data.get("from") or end - timedelta(days=30)
            if start >= end:
                raise serializers.ValidationError({"from": ["Must be before `to`."]})
            return {**data, "from": start, "to": end}

    class OutputSerializer(serializers.Serializer):
        kind = serializers.CharField()
        unit = serializers.CharField(help_text="The thing's unit for its own kind, else empty.")
        start = serializers.DateTimeField(source="from")
        end = serializers.DateTimeField(source="to")
        bucket_seconds = serializers.FloatField(help_text="Width of every bucket.")
        buckets = SeriesBucketSerializer(many=True, help_text="Non-empty buckets only, oldest first.")

        class Meta:
            ref_name = "ReadingSeries"

    @extend_schema(
        operation_id="things_readings_series",
        summary="Downsampled readings",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
        description=(
            "Readings of one kind in [`from`, `to`) cut into `buckets` equal time slices (at most "
            f"{downsample.MAX_BUCKETS}), with the count, minimum, mean and maximum of each slice computed by "
            "the database. Empty slices are left out, so a chart of a long series stays small and fast."
        ),
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.READINGS_READ)
        params = ReadingSeriesApi.FilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        kind = data.get("kind") or twin.reading_kind
        buckets = downsample.reading_series(
            twin=twin, kind=kind, start=data["from"], end=data["to"], buckets=data["buckets"]
        )
        result = {
            "kind": kind,
            "unit": twin.reading_unit if kind == twin.reading_kind else "",
            "from": data["from"],
            "to": data["to"],
            "bucket_seconds": downsample.bucket_width(
                start=data["from"], end=data["to"], buckets=data["buckets"]
            ).total_seconds(),
            "buckets": [vars(bucket) for bucket in buckets],
        }
        return Response(ReadingSeriesApi.OutputSerializer(result).data)
