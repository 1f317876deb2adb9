"""REST API for ownership transfer: what the transfer pages do (twins.transfer_views), over the same services
(twins.transfer) and selectors (twins.transfer_selectors).

The seller works on their thing's one pending offer, `/api/things/<slug>/transfer-offer` (create, see, cancel;
for a self-held key, download the log entries and upload them signed). The buyer names the offer by its token (or
the whole offer link) in the request body, never in the URL: an offer token is a bearer capability, and URLs end up
in access logs (core.logging redacts the pages' `/transfer/<token>`, which an API path would not match).

Recent authentication (SECURITY 26). The pages send a seller or buyer whose login is older than
RECENT_AUTH_SECONDS back to the login form. A token client has no login to renew, so every step the pages guard
(creating an offer, accepting one, the self-held seller's two steps) takes the account's `password` in the
request body; a browser session whose login is recent may leave it out. Without either the answer is a 403 that
says so, and nothing changes. Wrong passwords count against the same per-account budget as the login form's
(RATE_LOGIN_FAILURES_PER_ACCOUNT, core.middleware.LoginRateLimitMiddleware): once it is spent, even the right
password is a 429 until the window ends. Cancelling an offer needs no fresh login, as on the pages.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import ratelimit
from core.drf import ERRORS, ErrorSerializer, Pagination, StrictInputSerializer, TextField, paginated_response
from owners.models import Owner
from owners.recent_auth import is_recent
from twins import transfer_selectors
from twins.models import HistoryEntry, TransferOffer
from twins.transfer import (
    OFFER_DAYS,
    offer_accept,
    offer_cancel,
    offer_create,
    transfer_complete,
    transfer_prepare,
)
from twins.transfer_forms import PRIVATE_BY_DEFAULT

TAGS = ["transfers"]


# --- Recent authentication -----------------------------------------------------------------------------------


def confirm_recent_auth(request: Request, password: str | None) -> None:
    """Pass if `password` is the caller's, or if it is left out and the caller's browser session logged in within
    RECENT_AUTH_SECONDS; else 403 (429 once the account's failed-password budget is spent)."""
    user: Owner = request.user
    if password is None:
        if request.auth is None and is_recent(request._request):
            return
        raise exceptions.PermissionDenied(
            "This step needs a recent sign-in: send your account password as `password` in the request body"
            " (a browser session that signed in within the last few minutes may leave it out)."
        )
    account = ratelimit.secret_key_id(f"login:{user.get_username().casefold()}")
    retry = ratelimit.peek("login-failed", account, settings.RATE_LOGIN_FAILURES_PER_ACCOUNT)
    if retry is not None:
        raise exceptions.Throttled(
            wait=retry, detail=f"Too many wrong passwords for this account. Try again {ratelimit.wait_text(retry)}."
        )
    if not user.check_password(password):
        ratelimit.hit("login-failed", account, settings.RATE_LOGIN_FAILURES_PER_ACCOUNT)
        raise exceptions.PermissionDenied("That is not your account's password: nothing was changed.")


def _password_field() -> serializers.CharField:
    return TextField(
        required=False,
        max_length=4096,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
        help_text="Your account password: needed unless your browser session signed in within the last few minutes.",
    )


FRESH_LOGIN = {
    403: OpenApiResponse(ErrorSerializer, description="No `password` (or a wrong one) and no recent browser login."),
    429: OpenApiResponse(ErrorSerializer, description="Too many wrong passwords for this account; see Retry-After."),
}
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such thing among yours, or it has no pending offer.")
CONFLICT = OpenApiResponse(ErrorSerializer, description="The offer or the thing is not in a state that allows it.")
GONE = OpenApiResponse(ErrorSerializer, description="The offer was cancelled, used or has expired.")


# --- Output ---------------------------------------------------------------------------------------------------


def offer_url(offer: TransferOffer) -> str:
    """The link the seller gives the buyer (the transfer page's)."""
    return f"{settings.SITE_URL}{reverse('transfer-offer', args=[offer.token])}"


class OfferOutputSerializer(serializers.ModelSerializer):
    """An offer as its seller sees it: the link to give the buyer is in `url` (and `token`)."""

    thing = serializers.CharField(source="twin.slug", help_text="The thing's public id.")
    thing_name = serializers.CharField(source="twin.name")
    url = serializers.SerializerMethodField(help_text="The offer link for the buyer (also as a QR on the page).")
    buyer = serializers.SerializerMethodField(help_text="Who accepted it (null while open).")

    class Meta:
        model = TransferOffer
        ref_name = "TransferOffer"
        fields = (
            "token",
            "url",
            "thing",
            "thing_name",
            "status",
            "redact_kinds",
            "buyer",
            "created_at",
            "expires_at",
            "accepted_at",
            "completed_at",
            "cancelled_at",
        )
        read_only_fields = fields

    def get_url(self, offer: TransferOffer) -> str:
        return offer_url(offer)

    def get_buyer(self, offer: TransferOffer) -> str | None:
        return offer.buyer.get_username() if offer.buyer_id else None


class OfferListItemSerializer(OfferOutputSerializer):
    """One of the caller's offers, as seller or buyer; the token and link only for the seller's own."""

    role = serializers.SerializerMethodField(help_text="`seller` or `buyer`.")
    thing_name = serializers.SerializerMethodField(
        help_text="The thing's name: its current one while it is yours; once it is not, the name it had when it"
        " changed hands (a later owner's name for it is theirs), null when that is not known."
    )
    token = serializers.SerializerMethodField(help_text="The offer's token (seller only; null for the buyer).")
    url = serializers.SerializerMethodField(help_text="The offer link (seller only; null for the buyer).")

    class Meta(OfferOutputSerializer.Meta):
        ref_name = "TransferOfferListItem"
        fields = ("role", *OfferOutputSerializer.Meta.fields)
        read_only_fields = fields

    def _is_seller(self, offer: TransferOffer) -> bool:
        return offer.seller_id == self.context["request"].user.pk

    def get_thing_name(self, offer: TransferOffer) -> str | None:
        return offer.name_for(self.context["request"].user.pk)

    def get_role(self, offer: TransferOffer) -> str:
        return "seller" if self._is_seller(offer) else "buyer"

    def get_token(self, offer: TransferOffer) -> str | None:
        return offer.token if self._is_seller(offer) else None

    def get_url(self, offer: TransferOffer) -> str | None:
        return offer_url(offer) if self._is_seller(offer) else None


class VerificationSerializer(serializers.Serializer):
    did = serializers.CharField()
    ok = serializers.BooleanField(help_text="Whether the thing's DID log and history verify.")
    problem = serializers.CharField(help_text="Why not (empty when `ok`).")
    entries = serializers.IntegerField()
    redacted = serializers.IntegerField(help_text="History entries already removed (their hashes stay).")
    log_versions = serializers.IntegerField()
    owner_since = serializers.CharField(allow_null=True)
    deactivated = serializers.BooleanField()

    class Meta:
        ref_name = "TwinVerification"


class BuyerViewSerializer(serializers.Serializer):
    """What a buyer judges an offer by before accepting it (the offer page's content)."""

    status = serializers.ChoiceField(choices=TransferOffer.Status.choices)
    note = serializers.CharField(help_text="For the buyer who already accepted: what happens next.")
    thing_name = serializers.CharField()
    thing_did = serializers.CharField()
    seller = serializers.CharField()
    expires_at = serializers.DateTimeField()
    redact_kinds = serializers.ListField(child=serializers.CharField(), help_text="History kinds removed at the sale.")
    entries_removed_at_sale = serializers.IntegerField()
    verification = VerificationSerializer()
    self_held = serializers.BooleanField(help_text="Your key is self-held: sign `acceptance` and send it as `signed`.")
    acceptance = serializers.DictField(help_text="The acceptance document your key signs (eddsa-jcs-2022).")

    class Meta:
        ref_name = "TransferOfferForBuyer"


def _buyer_view(page: transfer_selectors.BuyerPage) -> dict[str, Any]:
    offer = page.offer
    return {
        "status": offer.status,
        "note": page.problem,
        "thing_name": page.twin.name,
        "thing_did": page.twin.did,
        "seller": offer.seller.get_username(),
        "expires_at": offer.expires_at,
        "redact_kinds": list(offer.redact_kinds),
        "entries_removed_at_sale": page.to_remove,
        "verification": page.verification.as_dict(),
        "self_held": page.self_held,
        "acceptance": page.acceptance,
    }


def _offers_of(viewer: Owner) -> QuerySet[TransferOffer]:
    """Offers the viewer made, and those they accepted, newest first."""
    return (
        TransferOffer.objects.filter(Q(seller=viewer) | Q(buyer=viewer))
        .select_related("twin", "buyer")
        .order_by("-created_at", "-pk")
    )


# --- The seller ------------------------------------------------------------------------------------------------


class OfferListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="transfers_list",
        summary="List your transfer offers",
        tags=TAGS,
        responses={200: OfferListItemSerializer(many=True), 400: ERRORS[400]},
        description="Offers you made (any state) and offers you accepted as the buyer, newest first.",
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request, view=self, queryset=_offers_of(request.user), serializer_class=OfferListItemSerializer
        )


class OfferDetailApi(APIView):
    @extend_schema(
        operation_id="things_transfer_offer_retrieve",
        summary="Get a thing's pending offer",
        tags=TAGS,
        responses={200: OfferOutputSerializer, 404: NOT_FOUND},
        description="The open offer, or the accepted one waiting for the seller's signature.",
    )
    def get(self, request: Request, slug: str) -> Response:
        _, offer = transfer_selectors.sellers_offer_get(viewer=request.user, slug=slug)
        return Response(OfferOutputSerializer(offer).data)


class OfferCreateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        redact_kinds = serializers.ListField(
            child=serializers.ChoiceField(choices=list(HistoryEntry.REDACTABLE)),
            max_length=len(HistoryEntry.REDACTABLE),
            required=False,
            help_text=(
                "History kinds to remove before the sale; `[]` keeps everything. Left out, the private choice of the"
                f" offer page: {', '.join(PRIVATE_BY_DEFAULT)}. Removed entries keep their place and hash: the buyer"
                " sees that something was removed, not what."
            ),
        )
        days = serializers.IntegerField(min_value=1, max_value=30, default=OFFER_DAYS, help_text="How long it lasts.")
        password = _password_field()

        class Meta:
            ref_name = "TransferOfferCreate"

    @extend_schema(
        operation_id="things_transfer_offer_create",
        summary="Offer a thing for transfer",
        tags=TAGS,
        request=InputSerializer,
        responses={201: OfferOutputSerializer, 400: ERRORS[400], **FRESH_LOGIN, 404: NOT_FOUND, 409: CONFLICT},
        description=(
            "A single-use, expiring offer: give the buyer its `url`. One pending offer per thing (409 while one"
            " is). Needs a fresh login: `password`, or a browser session that signed in recently."
        ),
    )
    def post(self, request: Request, slug: str) -> Response:
        page = transfer_selectors.seller_page(viewer=request.user, slug=slug)
        serializer = OfferCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        confirm_recent_auth(request, data.get("password"))
        offer = offer_create(
            twin=page.twin,
            seller=request.user,
            redact_kinds=data.get("redact_kinds", PRIVATE_BY_DEFAULT),
            days=data["days"],
        )
        return Response(OfferOutputSerializer(offer).data, status=status.HTTP_201_CREATED)


class OfferCancelApi(APIView):
    @extend_schema(
        operation_id="things_transfer_offer_destroy",
        summary="Cancel a thing's pending offer",
        tags=TAGS,
        responses={200: OfferOutputSerializer, 404: NOT_FOUND, 409: CONFLICT},
        description="Its link stops working at once.",
    )
    def delete(self, request: Request, slug: str) -> Response:
        _, offer = transfer_selectors.sellers_offer_get(viewer=request.user, slug=slug)
        offer = offer_cancel(offer=offer, seller=request.user)
        return Response(OfferOutputSerializer(offer).data)


class OfferApi(OfferDetailApi, OfferCreateApi, OfferCancelApi):
    # GET shows the pending offer, POST makes one, DELETE cancels it.
    pass


class NextKeyInput(StrictInputSerializer):
    """What a self-held owner sends for the entries to sign (a transfer's, a move's): the next key's public half and
    the password of the fresh login. Subclasses name their schema (``Meta.ref_name``)."""

    next_public_key = TextField(
        max_length=64, help_text="Your next key's public key: `python -m ssi.sign pubkey NEXT_KEYFILE`."
    )
    password = _password_field()


class EntriesApi(APIView):
    class InputSerializer(NextKeyInput):
        class Meta:
            ref_name = "TransferEntriesRequest"

    @extend_schema(
        operation_id="things_transfer_offer_entries",
        summary="Get the log entries a self-held seller signs",
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                {"type": "array", "items": {"type": "object"}},
                description="Sign them with `python -m ssi.sign sign KEY entries.json --attach`.",
            ),
            400: ERRORS[400],
            **FRESH_LOGIN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        description="After the buyer accepted, for a seller whose key is self-held. Needs a fresh login.",
    )
    def post(self, request: Request, slug: str) -> Response:
        _, offer = transfer_selectors.sellers_offer_get(viewer=request.user, slug=slug)
        serializer = EntriesApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        confirm_recent_auth(request, data.get("password"))
        entries = transfer_prepare(offer=offer, seller=request.user, revealed_key=data["next_public_key"])
        return Response(entries)


class SignApi(APIView):
    class InputSerializer(StrictInputSerializer):
        signed = serializers.ListField(
            child=serializers.DictField(), max_length=10, help_text="The entries from `entries`, each signed."
        )
        password = _password_field()

        class Meta:
            ref_name = "TransferSignRequest"

    @extend_schema(
        operation_id="things_transfer_offer_sign",
        summary="Complete a transfer with the self-held seller's signed entries",
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: OfferOutputSerializer,
            400: ERRORS[400],
            **FRESH_LOGIN,
            404: NOT_FOUND,
            409: CONFLICT,
            410: GONE,
        },
        description="The transfer happens now: the buyer owns the thing. Needs a fresh login.",
    )
    def post(self, request: Request, slug: str) -> Response:
        _, offer = transfer_selectors.sellers_offer_get(viewer=request.user, slug=slug)
        serializer = SignApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        confirm_recent_auth(request, data.get("password"))
        offer = transfer_complete(offer=offer, signed_entries=data["signed"])
        return Response(OfferOutputSerializer(offer).data)


# --- The buyer -------------------------------------------------------------------------------------------------


class OfferField(TextField):
    """The offer's token, or the whole offer link (`…/transfer/<token>`) as the seller shared it."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data).strip()
        path = urlsplit(text).path if "/" in text else text
        return path.rstrip("/").rsplit("/", 1)[-1]


def _offer_input(**extra) -> OfferField:
    return OfferField(max_length=2000, help_text="The offer's link, or just its token.", **extra)


class BuyerViewApi(APIView):
    class InputSerializer(StrictInputSerializer):
        offer = _offer_input()

        class Meta:
            ref_name = "TransferOfferLookup"

    @extend_schema(
        operation_id="transfers_view",
        summary="See an offer as the buyer",
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: BuyerViewSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(ErrorSerializer, description="It is your own offer."),
            404: OpenApiResponse(ErrorSerializer, description="No such offer."),
            409: OpenApiResponse(ErrorSerializer, description="Someone else accepted it."),
            410: GONE,
        },
        description=(
            "What the offer page shows before accepting: the thing, whether its history verifies, what the sale"
            " removes, and the acceptance document a self-held key signs. A POST so the token stays out of URLs"
            " and logs; it changes nothing."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = BuyerViewApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = transfer_selectors.buyer_page(viewer=request.user, token=serializer.validated_data["offer"])
        return Response(BuyerViewSerializer(_buyer_view(page)).data)


class AcceptApi(APIView):
    class InputSerializer(StrictInputSerializer):
        offer = _offer_input()
        signed = serializers.DictField(
            required=False,
            help_text="A self-held key's signed acceptance document (from `transfers/view`); leave out otherwise.",
        )
        password = _password_field()

        class Meta:
            ref_name = "TransferAccept"

    @extend_schema(
        operation_id="transfers_accept",
        summary="Accept an offer",
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: OfferOutputSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(
                ErrorSerializer, description="No fresh login (see `password`), or it is your own offer."
            ),
            404: OpenApiResponse(ErrorSerializer, description="No such offer."),
            409: OpenApiResponse(ErrorSerializer, description="Someone else accepted it first."),
            410: GONE,
            429: FRESH_LOGIN[429],
        },
        description=(
            "With a platform-held seller key the thing is yours at once (`status` `completed`); otherwise the"
            " offer waits for the seller's signature (`awaiting_seller`). Needs a fresh login."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = AcceptApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        offer = transfer_selectors.offer_get(token=data["offer"])
        confirm_recent_auth(request, data.get("password"))
        offer = offer_accept(offer=offer, buyer=request.user, signed_acceptance=data.get("signed"))
        return Response(OfferOutputSerializer(offer).data)
