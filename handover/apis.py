"""REST API for handovers (many things to one buyer): what the handover pages do, over the same services and
selectors, in the style of twins.api_transfer.

The seller works on `/api/handovers` (create from a list of their things' slugs, list) and
`/api/handovers/<id>` (see, cancel). The buyer names the offer by its token (or the whole offer link) in the
request body, never in the URL: the token is a bearer capability. Creating and accepting need a fresh login
(`password`, or a browser session that signed in recently), as for a single transfer.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, ErrorSerializer, StrictInputSerializer, TextField
from handover import selectors
from handover.models import Handover
from handover.services import MAX_THINGS, handover_accept, handover_cancel, handover_create
from handover.views import offer_url
from twins.api_transfer import (
    FRESH_LOGIN,
    GONE,
    VerificationSerializer,
    _password_field,
    confirm_recent_auth,
)
from twins.models import HistoryEntry, Twin
from twins.transfer import OFFER_DAYS
from twins.transfer_forms import PRIVATE_BY_DEFAULT

TAGS = ["handovers"]
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such handover among yours.")
CONFLICT = OpenApiResponse(ErrorSerializer, description="A thing or the offer is not in a state that allows it.")


class ThingSerializer(serializers.Serializer):
    thing = serializers.CharField(source="twin.slug", help_text="The thing's public id.")
    thing_name = serializers.CharField(
        allow_null=True,
        help_text="Its current name while it is yours; once it is not, the name it had when this handover sold it"
        " (a later owner's name for it is theirs), null when that is not known.",
    )
    did = serializers.CharField(source="twin.did")

    class Meta:
        ref_name = "HandoverThing"


class HandoverOutputSerializer(serializers.ModelSerializer):
    """A handover as its seller sees it: the link to give the buyer is in `url` (and `token`)."""

    id = serializers.CharField(source="public_id", help_text="The handover's id in /api/handovers/<id>.")
    url = serializers.SerializerMethodField(help_text="The offer link for the buyer (also as a QR on the page).")
    status = serializers.SerializerMethodField(help_text="open awaiting_seller completed cancelled expired failed")
    buyer = serializers.SerializerMethodField(help_text="Who accepted it, or whose acceptance failed (null: nobody).")
    things = serializers.SerializerMethodField()

    class Meta:
        model = Handover
        ref_name = "Handover"
        fields = (
            "id",
            "token",
            "url",
            "status",
            "things",
            "redact_kinds",
            "buyer",
            "failure",
            "created_at",
            "expires_at",
            "accepted_at",
            "completed_at",
            "cancelled_at",
            "failed_at",
        )
        read_only_fields = fields

    def get_url(self, handover: Handover) -> str:
        return offer_url(handover)

    def get_status(self, handover: Handover) -> str:
        return Handover.Status.EXPIRED.value if handover.is_expired else handover.status

    def get_buyer(self, handover: Handover) -> str | None:
        return handover.buyer.get_username() if handover.buyer_id else None

    def get_things(self, handover: Handover) -> list[dict[str, Any]]:
        items = selectors.handover_items(handover, viewer=self.context["viewer"])
        return ThingSerializer(items, many=True).data


class HandoverCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        things = serializers.ListField(
            child=TextField(max_length=64),
            min_length=1,
            max_length=MAX_THINGS,
            help_text=f"Your things' slugs, at most {MAX_THINGS}; the buyer sees them in this order.",
        )
        redact_kinds = serializers.ListField(
            child=serializers.ChoiceField(choices=list(HistoryEntry.REDACTABLE)),
            max_length=len(HistoryEntry.REDACTABLE),
            required=False,
            help_text=f"History kinds removed at the sale; left out: {', '.join(PRIVATE_BY_DEFAULT)}.",
        )
        days = serializers.IntegerField(min_value=1, max_value=30, default=OFFER_DAYS, help_text="How long it lasts.")
        password = _password_field()

        class Meta:
            ref_name = "HandoverCreate"

    @extend_schema(
        operation_id="handovers_create",
        summary="Offer several things to one buyer",
        tags=TAGS,
        request=InputSerializer,
        responses={
            201: HandoverOutputSerializer,
            400: ERRORS[400],
            **FRESH_LOGIN,
            404: OpenApiResponse(ErrorSerializer, description="A slug is not one of your things."),
            409: CONFLICT,
        },
        description=(
            "One single-use, expiring offer for all the things: give the buyer its `url`. A 409 names each thing"
            " in the way in `extra.problems`. Needs a fresh login."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = HandoverCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        slugs = list(dict.fromkeys(data["things"]))
        found = {twin.slug: twin for twin in Twin.objects.filter(owner=request.user, slug__in=slugs)}
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            return Response(
                {"message": f"Not things of yours: {', '.join(missing)}.", "extra": {"things": missing}},
                status=status.HTTP_404_NOT_FOUND,
            )
        confirm_recent_auth(request, data.get("password"))
        handover = handover_create(
            seller=request.user,
            twins=[found[slug] for slug in slugs],
            redact_kinds=data.get("redact_kinds", PRIVATE_BY_DEFAULT),
            days=data["days"],
        )
        return Response(
            HandoverOutputSerializer(handover, context={"viewer": request.user}).data, status=status.HTTP_201_CREATED
        )


class HandoverDetailApi(APIView):
    @extend_schema(
        operation_id="handovers_retrieve",
        summary="Get one of your handovers",
        tags=TAGS,
        responses={200: HandoverOutputSerializer, 404: NOT_FOUND},
        description="Its state, its things and, once it failed, why (`failure`: nothing moved).",
    )
    def get(self, request: Request, handover_id: str) -> Response:
        handover = selectors.handover_get(viewer=request.user, public_id=handover_id)
        return Response(HandoverOutputSerializer(handover, context={"viewer": request.user}).data)

    @extend_schema(
        operation_id="handovers_destroy",
        summary="Cancel a handover",
        tags=TAGS,
        responses={200: HandoverOutputSerializer, 404: NOT_FOUND, 409: CONFLICT},
        description="Its link stops working at once.",
    )
    def delete(self, request: Request, handover_id: str) -> Response:
        handover = selectors.handover_get(viewer=request.user, public_id=handover_id)
        handover = handover_cancel(handover=handover, seller=request.user)
        return Response(HandoverOutputSerializer(handover, context={"viewer": request.user}).data)


# --- The buyer -------------------------------------------------------------------------------------------------


class OfferedThingSerializer(serializers.Serializer):
    thing_name = serializers.CharField(
        allow_null=True,
        help_text="Once the thing is no longer yours: the name it had when you bought it (null when not known).",
    )
    thing_did = serializers.CharField()
    verification = VerificationSerializer()
    removed_at_sale = serializers.DictField(child=serializers.IntegerField(), help_text="Entries removed, by kind.")

    class Meta:
        ref_name = "HandoverOfferedThing"


class BuyerViewSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="As in Handover.")
    note = serializers.CharField(help_text="For the buyer who already tried: what happened.")
    seller = serializers.CharField()
    expires_at = serializers.DateTimeField()
    redact_kinds = serializers.ListField(child=serializers.CharField())
    things = OfferedThingSerializer(many=True)
    self_held = serializers.BooleanField(help_text="Your key is self-held: sign `acceptance` and send it as `signed`.")
    acceptance = serializers.DictField(help_text="The one acceptance document your key signs (eddsa-jcs-2022).")

    class Meta:
        ref_name = "HandoverForBuyer"


def _buyer_view(page: selectors.BuyerPage) -> dict[str, Any]:
    handover = page.handover
    return {
        "status": handover.status,
        "note": page.note,
        "seller": handover.seller.get_username(),
        "expires_at": handover.expires_at,
        "redact_kinds": list(handover.redact_kinds),
        "things": [
            {
                "thing_name": thing.name,
                "thing_did": thing.twin.did,
                "verification": thing.verification.as_dict(),
                "removed_at_sale": dict(thing.removed_by_kind),
            }
            for thing in page.things
        ],
        "self_held": page.self_held,
        "acceptance": page.acceptance,
    }


def _token(value: str) -> str:
    """The token of a handover link (…/transfer/<token>/things) or the bare token."""
    parts = [part for part in value.strip("/").split("/") if part]
    if len(parts) >= 2 and parts[-1] == "things":
        return parts[-2]
    return value


class BuyerViewApi(APIView):
    class InputSerializer(StrictInputSerializer):
        offer = TextField(max_length=2000, help_text="The offer's link, or just its token.")

        class Meta:
            ref_name = "HandoverLookup"

    @extend_schema(
        operation_id="handovers_view",
        summary="See a handover as the buyer",
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: BuyerViewSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(ErrorSerializer, description="It is your own offer."),
            404: OpenApiResponse(ErrorSerializer, description="No such offer."),
            410: GONE,
        },
        description="What the offer page shows before accepting. A POST so the token stays out of URLs and logs;"
        " it changes nothing.",
    )
    def post(self, request: Request) -> Response:
        serializer = BuyerViewApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = selectors.buyer_page(viewer=request.user, token=_token(serializer.validated_data["offer"]))
        return Response(BuyerViewSerializer(_buyer_view(page)).data)


class AcceptApi(APIView):
    class InputSerializer(StrictInputSerializer):
        offer = TextField(max_length=2000, help_text="The offer's link, or just its token.")
        signed = serializers.DictField(
            required=False,
            help_text="A self-held key's signed acceptance document (from `handovers/view`); leave out otherwise.",
        )
        password = _password_field()

        class Meta:
            ref_name = "HandoverAccept"

    @extend_schema(
        operation_id="handovers_accept",
        summary="Accept a handover: every thing at once",
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: HandoverOutputSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(ErrorSerializer, description="No fresh login, or it is your own offer."),
            404: OpenApiResponse(ErrorSerializer, description="No such offer."),
            409: OpenApiResponse(
                ErrorSerializer, description="Someone else accepted it first, or one thing could not move: none did."
            ),
            410: GONE,
            429: FRESH_LOGIN[429],
        },
        description=(
            "All or nothing: every thing becomes yours (`status` `completed`; `awaiting_seller` while a self-held"
            " seller signs on the handover's page), or, if one cannot move, none does: the answer says why and the"
            " offer is marked failed. Needs a fresh login."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = AcceptApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        handover = selectors.handover_of_token(token=_token(data["offer"]))
        confirm_recent_auth(request, data.get("password"))
        handover = handover_accept(handover=handover, buyer=request.user, signed_acceptance=data.get("signed"))
        return Response(HandoverOutputSerializer(handover, context={"viewer": request.user}).data)
