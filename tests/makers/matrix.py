"""Values for tests/test_access_matrix.py: alice's organisation (she is its admin), with one of each of its
objects, made once per world when a route first needs it."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

from didcomm.models import InboundMessage
from makers import orgs, production, recalls
from makers.models import Membership, Organisation, ProductDocument, ProductModel, Recall
from tests.conftest import make_owner

MODEL_GTIN = "09506000134352"  # GS1's example GTIN
SERIAL = "MX-1"


@dataclass
class OrgWorld:
    organisation: Organisation
    model: ProductModel
    member: Membership
    invitation_id: int
    token_id: int
    recall: Recall
    document: ProductDocument
    received_notice: InboundMessage


def org_world(world) -> OrgWorld:
    cached = getattr(world, "_org_world", None)
    if cached is not None:
        return cached
    alice = world.alice
    organisation = orgs.organisation_create(slug="alice-works", name="Works of alice zq", admin=alice)
    member = Membership.objects.create(
        organisation=organisation, owner=make_owner("matrix-member"), role=Membership.Role.MEMBER
    )
    _, invitation = orgs.invitation_create(organisation=organisation, by=alice)
    _, token = orgs.token_issue(organisation=organisation, by=alice, label="matrix")
    model = production.model_create(organisation=organisation, name="Matrix grinder", gtin=MODEL_GTIN)
    production.produce(model=model, serials=[SERIAL], by=alice)
    recall = recalls.recall_issue(
        organisation=organisation, gtin=MODEL_GTIN, title="Matrix recall", text="Stop.", by=alice
    )
    document = ProductDocument.objects.create(
        model=model, title="Manual", file=SimpleUploadedFile("manual.pdf", b"%PDF-1.4\n%%EOF\n")
    )
    received = InboundMessage.objects.create(
        agent=world.own_connection.agent,
        connection=world.own_connection,
        sender_verkey=world.own_connection.their_verkey,
        message_id="matrix-recall-notice",
        type=recalls.NOTICE_TYPE,
        body={"recall": "1", "title": "A recall", "text": "Stop.", "severity": "warning"},
    )
    cached = OrgWorld(organisation, model, member, invitation.pk, token.pk, recall, document, received)
    world._org_world = cached
    return cached
