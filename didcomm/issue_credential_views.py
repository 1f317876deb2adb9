"""Pages and API of handing a credential to a connected wallet (didcomm.issue_credential): the owner's agent
offers one of the owner's credentials over one of its connections, and the owner sees how each offer went (the
peer's problem report, word for word, when it could not take it).

The credential arrives as its JSON (the wallet's button posts it, an API client sends it): this feature reads no
other feature's tables, and didcomm.issue_credential.credential_check decides whether it may be sent.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import ERRORS, ErrorSerializer, StrictInputSerializer
from core.errors import Conflict
from didcomm import issue_credential, selectors, services
from didcomm.models import Connection, CredentialExchange

TAGS = ["connections"]


def _sendable(request: HttpRequest) -> list[Connection]:
    agent = selectors.agent_find(owner=request.user)
    if agent is None:
        return []
    return [c for c in selectors.connection_list(agent=agent) if not selectors.send_refusal(c)]


def _exchanges(request: HttpRequest) -> list[CredentialExchange]:
    return list(
        CredentialExchange.objects.filter(connection__agent__owner=request.user).select_related("connection")[:50]
    )


@login_required
@require_POST
def credential_send(request: HttpRequest) -> HttpResponse:
    """The wallet's "Send to a connected wallet": without a chosen connection, the choice; with one, the offer."""
    document = request.POST.get("credential", "")
    context = {
        "document": document,
        "connections": _sendable(request),
        "exchanges": _exchanges(request),
        "proof_formats": issue_credential.PROOF_FORMATS.items(),
    }
    raw_id = request.POST.get("connection", "")
    if not raw_id:
        return render(request, "didcomm/credential_send.html", context)
    error, status_code = "", 200
    try:
        connection_id = int(raw_id)
        exchange = issue_credential.credential_offer_send(
            owner=request.user,
            connection_id=connection_id,
            document=document,
            proof_format=request.POST.get("proof_format", issue_credential.EDDSA_JCS_2022),
        )
    except ValueError:
        error, status_code = "Choose one of your connections.", 400
    except issue_credential.CredentialSendRefused as exc:
        error, status_code = str(exc), 400
    except services.SendRefused as exc:
        error, status_code = str(exc), 409
    else:
        context.update(sent=exchange, exchanges=_exchanges(request))
    context["error"] = error
    return render(request, "didcomm/credential_send.html", context, status=status_code)


@login_required
@require_GET
def credential_exchanges(request: HttpRequest) -> HttpResponse:
    """The credentials the owner's agent offered, and how each went."""
    return render(request, "didcomm/credential_send.html", {"exchanges": _exchanges(request), "connections": []})


# --- API ---------------------------------------------------------------------------------------------------------


class CredentialExchangeOutputSerializer(serializers.ModelSerializer):
    connection = serializers.IntegerField(source="connection_id")
    error = serializers.CharField(help_text="Why it was abandoned: the peer's problem report, as it wrote it.")

    class Meta:
        model = CredentialExchange
        ref_name = "CredentialExchange"
        fields = ("id", "connection", "thread_id", "state", "error", "created_at", "updated_at")
        read_only_fields = fields


class CredentialSendRefusedConflict(Conflict):
    """Nothing can be sent over the connection now (409, with the Connections page's words)."""


class CredentialOfferApi(APIView):
    class InputSerializer(StrictInputSerializer):
        credential = serializers.JSONField(help_text="The signed credential (JSON), one of yours: it names you.")
        proof_format = serializers.ChoiceField(
            choices=list(issue_credential.PROOF_FORMATS.items()),
            default=issue_credential.EDDSA_JCS_2022,
            help_text="How it is signed: as issued (eddsa-jcs-2022), or re-signed by the thing's key as"
            " Ed25519Signature2020 for wallets that take no Data Integrity proof (ACA-Py 1.x).",
        )

        class Meta:
            ref_name = "CredentialOfferInput"

    @extend_schema(
        summary="Offer a credential to a connected wallet",
        tags=TAGS,
        request=InputSerializer,
        responses={
            201: CredentialExchangeOutputSerializer,
            400: ERRORS[400],
            404: OpenApiResponse(ErrorSerializer, description="No such connection of your own agent."),
            409: OpenApiResponse(ErrorSerializer, description="Nothing can be sent over this connection now."),
        },
        description=(
            "Aries issue-credential 2.0 (RFC 0453, ld_proof format RFC 0593): your agent offers the credential,"
            " signed as it is, and issues it when the wallet requests it. The credential must be one of yours:"
            " issued by a thing of this instance, its proof intact, naming you as its subject. Follow `state`"
            " (and `error`) at the offer's own route."
        ),
    )
    def post(self, request: Request, connection_id: int) -> Response:
        # Another's connection is the same 404 as an unknown one, whatever the body (before it is read).
        selectors.connection_get(agent=selectors.agent_find(owner=request.user), connection_id=connection_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            exchange = issue_credential.credential_offer_send(
                owner=request.user,
                connection_id=connection_id,
                document=data.validated_data["credential"],
                proof_format=data.validated_data["proof_format"],
            )
        except issue_credential.CredentialSendRefused as exc:
            raise serializers.ValidationError({"credential": [str(exc)]}) from None
        except services.SendRefused as exc:
            raise CredentialSendRefusedConflict(str(exc)) from None
        return Response(CredentialExchangeOutputSerializer(exchange).data, status=status.HTTP_201_CREATED)


class CredentialOfferGetApi(APIView):
    @extend_schema(
        summary="Show a credential offer",
        tags=TAGS,
        responses={200: CredentialExchangeOutputSerializer, 404: ERRORS[404]},
        description="How an offer went: `offer-sent`, `credential-issued`, `done` (the wallet acknowledged it) or"
        " `abandoned` (`error` holds the wallet's problem report).",
    )
    def get(self, request: Request, credential_offer_id: int) -> Response:
        exchange = get_object_or_404(CredentialExchange, pk=credential_offer_id, connection__agent__owner=request.user)
        return Response(CredentialExchangeOutputSerializer(exchange).data)
