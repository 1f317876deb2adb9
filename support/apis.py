"""Support REST API: what the support pages do (support.views), over the same services and selectors.

The owner's routes (`/api/support/cases…`, `/api/things/<slug>/support/…`) are the case owner's and the thing
owner's; the organisation's (`/api/orgs/<slug>/support/cases…`) its members' (session or owner token). Each
route finds its case or thing through a selector scoped to the caller before it reads the body, so anyone else
gets the one 404 and learns nothing from validation errors. A service's refusal (django ValidationError) is a 400
in words (core.exceptions). Where the page takes a photo the operation takes multipart with an optional `photo`;
JSON otherwise.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, IdField, Pagination, StrictInputSerializer, TextField, paginated_response
from core.parsers import StrictJSONParser
from makers.access import organisation_for_member
from makers.models import Membership, Organisation
from support import context as things_context
from support import protocol, selectors, services
from support.models import Case, CaseMessage
from twins.selectors import twin_get

TAG = "support"
BOTH = {400: ERRORS[400], 404: ERRORS[404], 415: ERRORS[415]}


# --- Output -----------------------------------------------------------------------------------------------------


class MessageOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="message_id", help_text="The DIDComm message id.")
    kind = serializers.ChoiceField(choices=CaseMessage.Kind.choices)
    incoming = serializers.BooleanField(help_text="Sent by the other side.")
    author = serializers.CharField(source="author_label")
    text = serializers.CharField()
    context = serializers.JSONField(help_text="What the owner attached of the thing, as sent (model, serial…).")
    attachments = serializers.JSONField(help_text="RFC 0017 attachments (photos inline as base64).")
    asks = serializers.ListField(child=serializers.CharField(), help_text="An ask: the kinds asked for.")
    status = serializers.CharField(help_text="A status message: the case's new status.")
    delivery = serializers.CharField(
        help_text="Ours: queued, sent, failed or read (the peer's receipt). Theirs: empty."
    )
    read_at = serializers.DateTimeField(
        allow_null=True, help_text="Ours: when the peer read it; theirs: when we read it (null: unread)."
    )
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "SupportMessage"


class ThingRefSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The thing's public id.")
    name = serializers.CharField()

    class Meta:
        ref_name = "SupportThing"


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()

    class Meta:
        ref_name = "SupportPerson"


def _person(owner) -> dict[str, Any] | None:
    if owner is None:
        return None
    return {"id": owner.pk, "username": owner.username, "name": owner.get_full_name() or owner.username}


class CaseSummarySerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The case's public id.")
    subject = serializers.CharField()
    status = serializers.CharField(help_text="open, waiting (for the owner's answer to an ask) or resolved.")
    mode = serializers.ChoiceField(choices=Case.Mode.choices, help_text="basic: the peer runs a plain Aries agent.")
    peer = serializers.CharField(source="peer_label", help_text="The other side's agent label.")
    unread = serializers.IntegerField(help_text="Messages from the other side not read yet.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "SupportCaseSummary"


class OwnerCaseSummarySerializer(CaseSummarySerializer):
    thing = serializers.SerializerMethodField(help_text="The thing, while it is still yours (null after a sale).")

    class Meta:
        ref_name = "SupportOwnerCaseSummary"

    @extend_schema_field(ThingRefSerializer(allow_null=True))
    def get_thing(self, case: Case) -> dict[str, str] | None:
        twin = case.twin
        if twin is None or twin.owner_id != case.owner_id:
            return None
        return {"id": twin.slug, "name": twin.name}


class AskSerializer(serializers.Serializer):
    id = serializers.CharField(source="message_id")
    asks = serializers.ListField(child=serializers.CharField())
    text = serializers.CharField()

    class Meta:
        ref_name = "SupportPendingAsk"


class OwnerCaseSerializer(OwnerCaseSummarySerializer):
    can_write = serializers.BooleanField(help_text="False once the thing is no longer yours: the case is kept to read.")
    pending_ask = AskSerializer(allow_null=True, help_text="The party's ask not answered yet (provide or decline).")
    attachable = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="The keys you may send in answer to an ask (key, label, detail).",
    )
    messages = MessageOutputSerializer(many=True, source="thread")

    class Meta:
        ref_name = "SupportOwnerCase"


class PartyCaseSummarySerializer(CaseSummarySerializer):
    thing = serializers.JSONField(help_text="What the owner said of the thing (model, serial, firmware).")
    model = serializers.CharField(source="model.gtin", default="", help_text="The model's GTIN, when known.")
    assignee = serializers.SerializerMethodField(help_text="The member on the case (null: nobody).")

    class Meta:
        ref_name = "SupportPartyCaseSummary"

    @extend_schema_field(PersonSerializer(allow_null=True))
    def get_assignee(self, case: Case) -> dict[str, Any] | None:
        return _person(case.assignee)


class PartyCaseSerializer(PartyCaseSummarySerializer):
    pending_ask = AskSerializer(allow_null=True, help_text="Your ask the owner has not answered yet.")
    members = PersonSerializer(many=True, help_text="Who may be assigned (`assignee_id`).")
    messages = MessageOutputSerializer(many=True, source="thread")

    class Meta:
        ref_name = "SupportPartyCase"


def _with_unread(cases: QuerySet[Case]) -> QuerySet[Case]:
    return cases.annotate(unread=Count("messages", filter=Q(messages__incoming=True, messages__read_at__isnull=True)))


def _unread(case: Case) -> int:
    return case.messages.filter(incoming=True, read_at__isnull=True).count()


def _items(items: list[things_context.Item]) -> list[dict[str, str]]:
    return [{"key": item.key, "label": item.label, "detail": item.detail} for item in items]


def _mine(case: Case, viewer) -> bool:
    return case.twin is not None and case.twin.owner_id == viewer.pk


def _owner_case(case: Case, viewer) -> dict[str, Any]:
    mine = _mine(case, viewer)
    case.unread = _unread(case)
    case.can_write = mine
    case.pending_ask = selectors.pending_ask(case) if mine else None
    case.attachable = _items(things_context.choices(case.twin)) if mine else []
    case.thread = list(selectors.case_messages(case))
    return OwnerCaseSerializer(case).data


def _party_case(case: Case, organisation: Organisation) -> dict[str, Any]:
    case.unread = _unread(case)
    case.pending_ask = selectors.pending_ask(case)
    case.thread = list(selectors.case_messages(case))
    case.members = [
        _person(m.owner)
        for m in Membership.objects.filter(organisation=organisation)
        .select_related("owner")
        .order_by("owner__username", "id")
    ]
    return PartyCaseSerializer(case).data


# --- Input ------------------------------------------------------------------------------------------------------


class TextInputSerializer(StrictInputSerializer):
    text = TextField(max_length=protocol.MAX_TEXT, help_text="The message.")

    class Meta:
        ref_name = "SupportText"


class TextPhotoInputSerializer(TextInputSerializer):
    photo = serializers.FileField(required=False, help_text="JPEG, PNG, WebP or GIF; sent re-encoded, no metadata.")

    class Meta:
        ref_name = "SupportTextPhoto"


class StatusInputSerializer(StrictInputSerializer):
    status = serializers.ChoiceField(choices=list(protocol.STATUSES), help_text="resolved closes, open reopens.")
    text = TextField(max_length=protocol.MAX_TEXT, required=False, allow_blank=True, default="")

    class Meta:
        ref_name = "SupportStatus"


class ReadOutputSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many messages were unread (the peer gets a read receipt).")

    class Meta:
        ref_name = "SupportRead"


def _photo(data: dict) -> Any:
    return data.get("photo") or None


# --- The owner's side -------------------------------------------------------------------------------------------


class MyCasesApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="support_cases_list",
        summary="List my support cases",
        description="The cases you opened about your things, newest activity first (kept after a sale, to read).",
        tags=[TAG],
        responses={200: OwnerCaseSummarySerializer(many=True), 400: ERRORS[400]},
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=_with_unread(selectors.cases_of_owner(viewer=request.user)),
            serializer_class=OwnerCaseSummarySerializer,
        )


class MyCaseApi(APIView):
    @extend_schema(
        operation_id="support_cases_get",
        summary="One of my cases",
        description="The case with its messages, each with its delivery and read state, and any pending ask.",
        tags=[TAG],
        responses={200: OwnerCaseSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, case_id: str) -> Response:
        case = selectors.case_get_for_owner(viewer=request.user, case_id=case_id)
        return Response(_owner_case(case, request.user))


class ThingSupportOutputSerializer(serializers.Serializer):
    class PartySerializer(serializers.Serializer):
        connection_id = serializers.IntegerField()
        label = serializers.CharField()

        class Meta:
            ref_name = "SupportParty"

    parties = PartySerializer(many=True, help_text="Whom you may ask about this thing (`connection_id`).")
    attachable = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="What you may attach (`keys`): key, label, detail.",
    )
    cases = OwnerCaseSummarySerializer(many=True, help_text="Your cases about this thing.")

    class Meta:
        ref_name = "SupportThingOptions"


class ThingSupportApi(APIView):
    @extend_schema(
        operation_id="things_support_options",
        summary="Whom to ask and what to attach",
        description=(
            "The parties this thing is connected to (its maker, a service party introduced to it…) and the keys "
            "of what it can attach to a case (model, serial, firmware, readings:<kind>, photo, journal:<id>)."
        ),
        tags=[TAG],
        responses={200: ThingSupportOutputSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        parties = services.help_connections(twin=twin)
        cases = _with_unread(selectors.cases_of_twin(viewer=request.user, twin=twin).select_related("twin"))
        body = {
            "parties": [{"connection_id": c.pk, "label": c.their_label or "a connected agent"} for c in parties],
            "attachable": _items(things_context.choices(twin)),
            "cases": cases.order_by("-updated_at", "-id")[:200],
        }
        return Response(ThingSupportOutputSerializer(body).data)


class CaseOpenApi(APIView):
    parser_classes = [StrictJSONParser, MultiPartParser]

    class InputSerializer(StrictInputSerializer):
        connection_id = serializers.IntegerField(help_text="One of the `parties` of the thing's support options.")
        subject = TextField(max_length=protocol.MAX_SUBJECT, required=False, allow_blank=True, default="")
        text = TextField(max_length=protocol.MAX_TEXT, help_text="What is wrong.")
        keys = serializers.ListField(
            child=TextField(max_length=100),
            max_length=100,
            required=False,
            default=list,
            help_text="What to attach, exactly: keys from the thing's `attachable` (nothing else goes).",
        )

        class Meta:
            ref_name = "SupportCaseOpen"

    class MultipartSerializer(InputSerializer):
        photo = serializers.FileField(required=False, help_text="A new photo (JPEG, PNG, WebP or GIF).")

        class Meta:
            ref_name = "SupportCaseOpenWithPhoto"

    @extend_schema(
        operation_id="things_support_cases_create",
        summary="Open a support case about a thing",
        description="JSON, or multipart with an optional `photo`. Only the ticked `keys` are sent to the party.",
        tags=[TAG],
        request={"application/json": InputSerializer, "multipart/form-data": MultipartSerializer},
        responses={201: OwnerCaseSerializer, **BOTH},
    )
    def post(self, request: Request, slug: str) -> Response:
        twin = twin_get(viewer=request.user, slug=slug)
        data = CaseOpenApi.MultipartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        case = services.case_open(
            owner=request.user,
            twin=twin,
            connection_id=values["connection_id"],
            subject=values["subject"],
            text=values["text"],
            keys=values["keys"],
            photo=_photo(values),
        )
        return Response(_owner_case(case, request.user), status=status.HTTP_201_CREATED)


class MyCaseReplyApi(APIView):
    parser_classes = [StrictJSONParser, MultiPartParser]

    @extend_schema(
        operation_id="support_cases_reply",
        summary="Reply on my case",
        description="JSON, or multipart with an optional `photo`.",
        tags=[TAG],
        request={"application/json": TextInputSerializer, "multipart/form-data": TextPhotoInputSerializer},
        responses={201: MessageOutputSerializer, **BOTH},
    )
    def post(self, request: Request, case_id: str) -> Response:
        case = selectors.case_get_for_owner(viewer=request.user, case_id=case_id)
        data = TextPhotoInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.owner_reply(
            case=case, by=request.user, text=data.validated_data["text"], photo=_photo(data.validated_data)
        )
        return Response(MessageOutputSerializer(message).data, status=status.HTTP_201_CREATED)


class MyCaseAnswerApi(APIView):
    class InputSerializer(StrictInputSerializer):
        answer = serializers.ChoiceField(choices=["provide", "decline"])
        keys = serializers.ListField(
            child=TextField(max_length=100),
            max_length=100,
            required=False,
            default=list,
            help_text="provide: what to send, keys from the case's `attachable`.",
        )
        text = TextField(max_length=protocol.MAX_TEXT, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "SupportAnswer"

    @extend_schema(
        operation_id="support_cases_answer",
        summary="Answer the party's ask: send more, or decline",
        tags=[TAG],
        request=InputSerializer,
        responses={201: MessageOutputSerializer, **BOTH},
    )
    def post(self, request: Request, case_id: str) -> Response:
        case = selectors.case_get_for_owner(viewer=request.user, case_id=case_id)
        data = MyCaseAnswerApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if not _mine(case, request.user):
            raise ValidationError("This thing is no longer yours: the case is kept for you to read, and closed.")
        if values["answer"] == "decline":
            message = services.owner_decline(case=case, by=request.user, text=values["text"])
        else:
            message = services.owner_provide(case=case, by=request.user, keys=values["keys"], text=values["text"])
        return Response(MessageOutputSerializer(message).data, status=status.HTTP_201_CREATED)


class MyCaseStatusApi(APIView):
    @extend_schema(
        operation_id="support_cases_status",
        summary="Close or reopen my case",
        tags=[TAG],
        request=StatusInputSerializer,
        responses={201: MessageOutputSerializer, **BOTH},
    )
    def post(self, request: Request, case_id: str) -> Response:
        case = selectors.case_get_for_owner(viewer=request.user, case_id=case_id)
        return _status(request, case)


class MyCaseReadApi(APIView):
    @extend_schema(
        operation_id="support_cases_read",
        summary="Mark my case read",
        description="Marks the party's messages read; a Thingstead party gets a read receipt naming them.",
        tags=[TAG],
        request=None,
        responses={200: ReadOutputSerializer, 404: ERRORS[404]},
    )
    def post(self, request: Request, case_id: str) -> Response:
        case = selectors.case_get_for_owner(viewer=request.user, case_id=case_id)
        return Response({"marked": services.case_mark_read(case=case)})


def _status(request: Request, case: Case) -> Response:
    data = StatusInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    message = services.case_status(
        case=case, by=request.user, status=data.validated_data["status"], text=data.validated_data["text"]
    )
    return Response(MessageOutputSerializer(message).data, status=status.HTTP_201_CREATED)


# --- The organisation's side ------------------------------------------------------------------------------------


def _org_case(request: Request, slug: str, case_id: str) -> tuple[Organisation, Case]:
    organisation, _ = organisation_for_member(request.user, slug)
    return organisation, selectors.case_get_for_organisation(organisation=organisation, case_id=case_id)


class QueueApi(APIView):
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Case.Status.values, required=False)
        model = TextField(max_length=14, required=False, help_text="A model's GTIN-14.")
        assignee = serializers.ChoiceField(choices=["me", "nobody"], required=False)

        class Meta:
            ref_name = "SupportQueueFilter"

    @extend_schema(
        operation_id="orgs_support_cases_list",
        summary="The organisation's support queue",
        description="Members only. Newest activity first; narrowed by status, model (GTIN) and assignee.",
        tags=[TAG],
        parameters=[FilterSerializer],
        responses={200: PartyCaseSummarySerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str) -> Response:
        organisation, _ = organisation_for_member(request.user, slug)
        params = QueueApi.FilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        values = params.validated_data
        filters = selectors.QueueFilters(
            status=values.get("status", ""), gtin=values.get("model", ""), assignee=values.get("assignee", "")
        )
        return paginated_response(
            request=request,
            view=self,
            queryset=_with_unread(selectors.queue(organisation=organisation, viewer=request.user, filters=filters)),
            serializer_class=PartyCaseSummarySerializer,
        )


class OrgCaseApi(APIView):
    @extend_schema(
        operation_id="orgs_support_cases_get",
        summary="One case of the queue",
        tags=[TAG],
        responses={200: PartyCaseSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, slug: str, case_id: str) -> Response:
        organisation, case = _org_case(request, slug, case_id)
        return Response(_party_case(case, organisation))


class OrgCaseReplyApi(APIView):
    @extend_schema(
        operation_id="orgs_support_cases_reply",
        summary="Reply to the owner",
        tags=[TAG],
        request=TextInputSerializer,
        responses={201: MessageOutputSerializer, **BOTH},
    )
    def post(self, request: Request, slug: str, case_id: str) -> Response:
        _, case = _org_case(request, slug, case_id)
        data = TextInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.party_reply(case=case, by=request.user, text=data.validated_data["text"])
        return Response(MessageOutputSerializer(message).data, status=status.HTTP_201_CREATED)


class OrgCaseAskApi(APIView):
    class InputSerializer(StrictInputSerializer):
        asks = serializers.ListField(
            child=serializers.ChoiceField(choices=list(services.ASKABLE)),
            min_length=1,
            max_length=len(services.ASKABLE),
            help_text="What you would like the owner to send.",
        )
        text = TextField(max_length=protocol.MAX_TEXT, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "SupportAsk"

    @extend_schema(
        operation_id="orgs_support_cases_ask",
        summary="Ask the owner for more of the thing's data",
        description="The case waits for the owner's answer (status `waiting`).",
        tags=[TAG],
        request=InputSerializer,
        responses={201: MessageOutputSerializer, **BOTH},
    )
    def post(self, request: Request, slug: str, case_id: str) -> Response:
        _, case = _org_case(request, slug, case_id)
        data = OrgCaseAskApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.party_ask(
            case=case, by=request.user, asks=data.validated_data["asks"], text=data.validated_data["text"]
        )
        return Response(MessageOutputSerializer(message).data, status=status.HTTP_201_CREATED)


class OrgCaseAssignApi(APIView):
    class InputSerializer(StrictInputSerializer):
        assignee_id = IdField(allow_null=True, help_text="A member's id (the case's `members`), or null for nobody.")

        class Meta:
            ref_name = "SupportAssign"

    @extend_schema(
        operation_id="orgs_support_cases_assign",
        summary="Put a member on the case (or nobody)",
        tags=[TAG],
        request=InputSerializer,
        responses={200: PartyCaseSummarySerializer, **BOTH},
    )
    def post(self, request: Request, slug: str, case_id: str) -> Response:
        _, case = _org_case(request, slug, case_id)
        data = OrgCaseAssignApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.party_assign(case=case, by=request.user, assignee_id=data.validated_data["assignee_id"])
        case.unread = _unread(case)
        return Response(PartyCaseSummarySerializer(case).data)


class OrgCaseStatusApi(APIView):
    @extend_schema(
        operation_id="orgs_support_cases_status",
        summary="Resolve or reopen a case",
        tags=[TAG],
        request=StatusInputSerializer,
        responses={201: MessageOutputSerializer, **BOTH},
    )
    def post(self, request: Request, slug: str, case_id: str) -> Response:
        _, case = _org_case(request, slug, case_id)
        return _status(request, case)


class OrgCaseReadApi(APIView):
    @extend_schema(
        operation_id="orgs_support_cases_read",
        summary="Mark a case read",
        description="Marks the owner's messages read; a Thingstead peer gets a read receipt naming them.",
        tags=[TAG],
        request=None,
        responses={200: ReadOutputSerializer, 404: ERRORS[404]},
    )
    def post(self, request: Request, slug: str, case_id: str) -> Response:
        _, case = _org_case(request, slug, case_id)
        return Response({"marked": services.case_mark_read(case=case)})
