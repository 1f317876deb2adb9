"""A produced thing introduces its owner to its manufacturer (Aries RFC 0028, run by sharing.introductions).

What makers knows and sharing does not: which organisation made a twin (its ProducedThing), the GTIN and serial
it is known by, and what an organisation answers a proposal (it approves, asking for the readings its product
model reports). Three seams:

- the **trigger**: a claim (the transfer from an organisation's account to a buyer, twins.events.Transferred)
  starts the introduction of the buyer, once the claim has committed;
- the **party finder**: a produced twin's party is its organisation's agent (sharing.introductions.Party);
- the **party policy**: a proposal received by an organisation's agent is approved (organisations take
  introductions to their customers), asking for the kinds its model reports;

and the "Introduce me to <organisation>" panel on a produced twin's private page, for an owner who did not
claim it (bought it second hand) or wants another try after declining.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest

from didcomm.models import Agent
from didcomm.services import agent_for_owner
from makers.models import Organisation, ProducedThing, ProductModel
from sharing import introductions
from sharing.introductions import Party, PartyAnswer
from ssi import introduce
from twins import events, panels
from twins.models import Twin

logger = logging.getLogger(__name__)


def _produced(twin: Twin) -> ProducedThing | None:
    return ProducedThing.objects.select_related("model__organisation__account").filter(twin=twin).first()


def party_of(twin: Twin) -> Party | None:
    """The organisation that produced the twin, as the party to introduce its owner to (None for a twin nobody
    produced here). Its agent is made on first use: only called by writes."""
    produced = _produced(twin)
    if produced is None:
        return None
    organisation = produced.model.organisation
    if organisation.account_id == twin.owner_id:
        return None  # not claimed yet: nobody to introduce
    return Party(
        label=organisation.name,
        agent=agent_for_owner(organisation.account),
        gtin=produced.model.gtin,
        serial=produced.serial,
    )


def asks_of(model: ProductModel | None) -> tuple[str, ...]:
    """What an organisation asks an owner for: each reading kind its model reports, else all readings."""
    if model is None:
        return ("readings",)
    kinds = [f"readings:{item['kind']}" for item in model.reading_kinds if isinstance(item, dict) and item.get("kind")]
    return tuple(introductions.known_kinds(kinds)) or ("readings",)


def organisation_policy(agent: Agent, proposal: introduce.Proposal) -> PartyAnswer | None:
    """An organisation's agent approves every introduction to the owner of a thing (it asked for none of the
    owner's data yet: the owner grants that later). Not an organisation's agent: left to the next policy."""
    if agent.owner_id is None:
        return None
    organisation = Organisation.objects.filter(account_id=agent.owner_id).first()
    if organisation is None:
        return None
    model = None
    if proposal.thing is not None and proposal.thing.gtin:
        model = ProductModel.objects.filter(organisation=organisation, gtin=proposal.thing.gtin).first()
    what = f"your {model.name}" if model is not None else "your thing"
    return PartyAnswer(
        approve=True,
        asks_for=asks_of(model),
        purpose=(
            f"{organisation.name} made {what}. Connected, we can reach you directly about recalls, safety notices "
            "and support for it, and receive the data you choose to share to improve it."
        ),
    )


def on_transferred(event: events.Transferred) -> None:
    """After a claim commits (a transfer whose seller is an organisation's account): the thing introduces its
    buyer to the organisation. A failure is logged: the claim stands, and the panel offers the introduction."""
    if not Organisation.objects.filter(account_id=event.seller_id).exists():
        return
    twin = Twin.objects.filter(pk=event.twin_id, owner_id=event.buyer_id).first()
    if twin is None:
        return  # passed on again meanwhile
    party = party_of(twin)
    if party is None:
        return
    try:
        introductions.introduction_start(twin=twin, party=party)
    except introductions.IntroductionRefused as exc:
        logger.warning("introduction of the buyer of twin %s not started: %s", twin.pk, exc)


def introduce_panel(request: HttpRequest, twin: Twin) -> dict:
    """The panel's context (a read: makes no agent). Only for a produced twin its owner claimed or bought."""
    produced = _produced(twin)
    if produced is None or produced.model.organisation.account_id == twin.owner_id:
        return {"introduce": None}
    return {
        "introduce": {
            "organisation": produced.model.organisation,
            "current": introductions.introduction_current(twin=twin),
        }
    }


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready)."""
    events.subscribe(events.Transferred, on_transferred)
    introductions.register_party_finder(party_of)
    introductions.register_party_policy(organisation_policy)
    panels.register_panel(
        panels.Panel("introduce", "makers/_introduce_panel.html", panels.AFTER_PUBLIC, 20, introduce_panel)
    )
