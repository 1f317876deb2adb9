"""REST API of the signed-in owner's places and labels, and of a thing's place and labels.

One class per operation (twins/apis.py explains the joining classes). Places are addressed by their random public
id, labels by their number; both are looked up among the caller's own (anyone else's is the one 404). An id in a
body that is not one of the caller's (a parent place, a label) is a 400 saying so.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, IdField, Pagination, StrictInputSerializer, TextField, paginated_response
from inventory import labels, locations
from inventory.models import Label, Location
from twins import selectors

# --- Places -------------------------------------------------------------------------------------------------------


class LocationOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True, help_text="Public id (128 random bits).")
    parent = serializers.SerializerMethodField(help_text="The place it is inside, or null at the top level.")

    class Meta:
        model = Location
        ref_name = "Place"
        fields = ("id", "name", "parent", "created_at")
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_parent(self, location: Location) -> str | None:
        return location.parent.public_id if location.parent_id else None


def _place_of(request: Request, raw: str | None) -> Location | None:
    if raw is None:
        return None
    location = Location.objects.filter(public_id=raw, owner=request.user).first()
    if location is None:
        raise DjangoValidationError({"parent": "No such place among yours."})
    return location


class LocationFieldsSerializer(StrictInputSerializer):
    name = TextField(max_length=locations.NAME_MAX)
    parent = TextField(
        max_length=32, allow_null=True, required=False, help_text="The id of the place it goes inside; null: top level."
    )


class LocationListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="places_list",
        summary="List your places",
        responses={200: LocationOutputSerializer(many=True), 400: ERRORS[400]},
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=Location.objects.filter(owner=request.user).select_related("parent").order_by("name", "id"),
            serializer_class=LocationOutputSerializer,
        )


class LocationCreateApi(APIView):
    class InputSerializer(LocationFieldsSerializer):
        class Meta:
            ref_name = "PlaceCreate"

    @extend_schema(
        operation_id="places_create",
        summary="Add a place",
        request=InputSerializer,
        responses={201: LocationOutputSerializer, 400: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        serializer = LocationCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        location = locations.location_create(
            owner=request.user, name=data["name"], parent=_place_of(request, data.get("parent"))
        )
        return Response(LocationOutputSerializer(location).data, status=status.HTTP_201_CREATED)


class LocationsApi(LocationListApi, LocationCreateApi):
    # GET lists the caller's places, POST adds one.
    pass


class LocationDetailApi(APIView):
    @extend_schema(
        operation_id="places_retrieve",
        summary="Show a place",
        responses={200: LocationOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, location_id: str) -> Response:
        location = locations.location_get(viewer=request.user, location_id=location_id)
        return Response(LocationOutputSerializer(location).data)


class LocationUpdateApi(APIView):
    class InputSerializer(LocationFieldsSerializer):
        class Meta:
            ref_name = "PlaceUpdate"

    @extend_schema(
        operation_id="places_partial_update",
        summary="Rename a place or move it inside another (never inside itself or a place inside it)",
        request=InputSerializer,
        responses={200: LocationOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def patch(self, request: Request, location_id: str) -> Response:
        location = locations.location_get(viewer=request.user, location_id=location_id)
        serializer = LocationUpdateApi.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parent = _place_of(request, data["parent"]) if "parent" in data else False
        locations.location_update(location=location, name=data.get("name"), parent=parent)
        return Response(LocationOutputSerializer(location).data)


class LocationDeleteApi(APIView):
    @extend_schema(
        operation_id="places_destroy",
        summary="Delete a place: the things and places directly in it move up to its parent place (at the top "
        "level: the things have no place, the places go to the top level)",
        responses={204: None, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def delete(self, request: Request, location_id: str) -> Response:
        location = locations.location_get(viewer=request.user, location_id=location_id)
        locations.location_delete(location=location)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LocationApi(LocationDetailApi, LocationUpdateApi, LocationDeleteApi):
    # GET shows a place, PATCH changes it, DELETE removes it.
    pass


# --- Labels -------------------------------------------------------------------------------------------------------


class LabelOutputSerializer(serializers.ModelSerializer):
    text_colour = serializers.SerializerMethodField(help_text="Black or white: whichever reads better on `colour`.")

    class Meta:
        model = Label
        ref_name = "Label"
        fields = ("id", "name", "colour", "text_colour", "created_at")
        read_only_fields = fields

    def get_text_colour(self, label: Label) -> str:
        return labels.text_colour(label.colour)


class LabelFieldsSerializer(StrictInputSerializer):
    name = TextField(max_length=labels.NAME_MAX)
    colour = TextField(max_length=7, required=False, help_text="#rrggbb")


class LabelListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="labels_list",
        summary="List your labels",
        responses={200: LabelOutputSerializer(many=True), 400: ERRORS[400]},
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=labels.labels_of_owner(request.user),
            serializer_class=LabelOutputSerializer,
        )


class LabelCreateApi(APIView):
    class InputSerializer(LabelFieldsSerializer):
        class Meta:
            ref_name = "LabelCreate"

    @extend_schema(
        operation_id="labels_create",
        summary="Add a label",
        request=InputSerializer,
        responses={201: LabelOutputSerializer, 400: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        serializer = LabelCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        label = labels.label_create(owner=request.user, **serializer.validated_data)
        return Response(LabelOutputSerializer(label).data, status=status.HTTP_201_CREATED)


class LabelsApi(LabelListApi, LabelCreateApi):
    # GET lists the caller's labels, POST adds one.
    pass


class LabelDetailApi(APIView):
    @extend_schema(
        operation_id="labels_retrieve", summary="Show a label", responses={200: LabelOutputSerializer, 404: ERRORS[404]}
    )
    def get(self, request: Request, label_id: int) -> Response:
        return Response(LabelOutputSerializer(labels.label_get(viewer=request.user, label_id=label_id)).data)


class LabelUpdateApi(APIView):
    class InputSerializer(LabelFieldsSerializer):
        class Meta:
            ref_name = "LabelUpdate"

    @extend_schema(
        operation_id="labels_partial_update",
        summary="Rename or recolour a label",
        request=InputSerializer,
        responses={200: LabelOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def patch(self, request: Request, label_id: int) -> Response:
        label = labels.label_get(viewer=request.user, label_id=label_id)
        serializer = LabelUpdateApi.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        labels.label_update(label=label, **serializer.validated_data)
        return Response(LabelOutputSerializer(label).data)


class LabelDeleteApi(APIView):
    @extend_schema(
        operation_id="labels_destroy",
        summary="Delete a label (the things it was on are unchanged)",
        responses={204: None, 404: ERRORS[404]},
    )
    def delete(self, request: Request, label_id: int) -> Response:
        labels.label_delete(label=labels.label_get(viewer=request.user, label_id=label_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelApi(LabelDetailApi, LabelUpdateApi, LabelDeleteApi):
    # GET shows a label, PATCH changes it, DELETE removes it.
    pass


# --- A thing's place and labels -----------------------------------------------------------------------------------


class ThingInventoryOutputSerializer(serializers.Serializer):
    location = LocationOutputSerializer(allow_null=True, help_text="Where the thing is, or null.")
    path = LocationOutputSerializer(many=True, help_text="Its place's breadcrumb, top place first.")
    labels = LabelOutputSerializer(many=True)

    class Meta:
        ref_name = "ThingInventory"


def _inventory_of(twin) -> dict:
    location = locations.placement_of(twin)
    path = locations.tree_of(twin.owner).path(location) if location else []
    return {"location": location, "path": path, "labels": labels.labels_of(twin)}


class ThingInventoryDetailApi(APIView):
    @extend_schema(
        operation_id="things_inventory_retrieve",
        summary="Where a thing is and its labels",
        responses={200: ThingInventoryOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        return Response(ThingInventoryOutputSerializer(_inventory_of(twin)).data)


class ThingInventoryUpdateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        location = TextField(max_length=32, allow_null=True, required=False, help_text="A place's id; null: no place.")
        labels = serializers.ListField(
            child=IdField(),
            max_length=100,
            required=False,
            help_text="Label ids: replaces the thing's labels.",
        )

        class Meta:
            ref_name = "ThingInventoryUpdate"

    @extend_schema(
        operation_id="things_inventory_partial_update",
        summary="Move a thing to a place and/or set its labels",
        request=InputSerializer,
        responses={200: ThingInventoryOutputSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def patch(self, request: Request, slug: str) -> Response:
        twin = selectors.twin_get(viewer=request.user, slug=slug)
        serializer = ThingInventoryUpdateApi.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Both checked before either is written: a bad label id must not leave the move behind.
        chosen = labels.labels_by_id(owner=request.user, ids=data["labels"]) if "labels" in data else None
        place = None
        if data.get("location") is not None:
            place = Location.objects.filter(public_id=data["location"], owner=request.user).first()
            if place is None:
                raise DjangoValidationError({"location": "No such place among yours."})
        if "location" in data:
            locations.thing_place(twin=twin, location=place)
        if chosen is not None:
            labels.thing_set_labels(twin=twin, labels=chosen)
        return Response(ThingInventoryOutputSerializer(_inventory_of(twin)).data)


class ThingInventoryApi(ThingInventoryDetailApi, ThingInventoryUpdateApi):
    # GET shows a thing's place and labels, PATCH changes them.
    pass
