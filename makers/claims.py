"""Claiming a produced thing: its first buyer proves they hold the box (the claim code printed inside) and the
normal transfer runs from the organisation's account to them, pre-authorized by the code.

The transfer is twins.transfer's own (offer by the account, nothing redacted; acceptance by the buyer), so the
twin's DID log rotates to the buyer's key exactly as in any sale and every feature hears `Transferred`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.ratelimit import hit_many, peek, wait_text
from makers import gs1
from makers.models import ProducedThing
from owners.models import Owner
from twins.models import Twin
from twins.transfer import TransferRefused, offer_accept, offer_create

# Wrong codes, per buyer and per thing: a code has ~79 random bits, so this is about a person's typos, and about
# making a guessing run pointless.
CLAIM_FAILURE_LIMIT = getattr(settings, "RATE_CLAIM_FAILURES", "5/900")
# Wrong codes per client address, whichever accounts they come under (sign-up is open, so a guesser can have many):
# looser than per buyer, since several buyers can share an address (an office, a carrier's NAT).
CLAIM_FAILURE_LIMIT_PER_CLIENT = "20/900"


# An unambiguous alphabet (no 0/O, 1/I/L): a claim code is typed from a card in the box.
CLAIM_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CLAIM_GROUPS, CLAIM_GROUP_SIZE = 4, 4  # 16 characters of 31: 79 bits, far beyond guessing at 5 tries a quarter hour


# --- claim codes -------------------------------------------------------------------------------------------------


def new_claim_code() -> str:
    """XXXX-XXXX-XXXX-XXXX from :data:`CLAIM_ALPHABET`, shown once (on the label sheet or the API answer)."""
    raw = "".join(secrets.choice(CLAIM_ALPHABET) for _ in range(CLAIM_GROUPS * CLAIM_GROUP_SIZE))
    return "-".join(raw[i : i + CLAIM_GROUP_SIZE] for i in range(0, len(raw), CLAIM_GROUP_SIZE))


def normalise_claim_code(typed: str) -> str:
    """What a person typed, as the code is hashed: upper case, without spaces and hyphens."""
    return "".join(ch for ch in (typed or "").upper() if ch not in " -\t\r\n")[:64]


def claim_code_hash(code: str) -> str:
    """Only this is stored. The code carries ~79 random bits, so a plain SHA-256 cannot be reversed by search."""
    return hashlib.sha256(f"thingstead-claim:{normalise_claim_code(code)}".encode()).hexdigest()


def claim_code_matches(code: str, stored_hash: str) -> bool:
    """Constant-time comparison of the typed code's hash with the stored one."""
    return bool(stored_hash) and hmac.compare_digest(claim_code_hash(code), stored_hash)


class ClaimRefused(Exception):
    """`message` for the person; `status` the HTTP status that fits; `retry_after` for a 429."""

    def __init__(self, message: str, *, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


ALREADY_CLAIMED = "This thing has already been claimed by its first owner. Ask them to transfer it to you."
WRONG_CODE = "That claim code does not match this thing. Check the card in the box and type it again."


def produced_of(twin: Twin) -> ProducedThing | None:
    return ProducedThing.objects.select_related("model__organisation__account").filter(twin=twin).first()


def produced_at(*, gtin: str, serial: str) -> ProducedThing | None:
    """The produced thing at a GS1 identity (GTIN-14 and serial), with its twin and model, or None."""
    return (
        ProducedThing.objects.select_related("twin", "model__organisation__account")
        .filter(model__gtin=gtin, serial=serial)
        .first()
    )


def produced_for_reference(reference: str) -> ProducedThing | None:
    """A thing named by its twin's public id (slug) or by a GS1 Digital Link URL or path."""
    reference = (reference or "").strip()
    if "/01/" in reference:
        link = gs1.parse_path(reference)  # GS1Error for a malformed link: the caller answers 400
        if link.serial is None:
            raise gs1.GS1Error("This GS1 link names a product model, not one thing: it needs /21/ and a serial.")
        return produced_at(gtin=link.gtin, serial=link.serial)
    if not reference or len(reference) > 32:
        return None
    return (
        ProducedThing.objects.select_related("twin", "model__organisation__account")
        .filter(twin__slug=reference)
        .first()
    )


def _limits(buyer: Owner, twin: Twin, client: str | None) -> list[tuple[str, str]]:
    """The budgets a wrong code spends: the buyer's, the thing's (so many addresses and accounts together get
    5 guesses at one box a quarter hour) and, from a request, the client address's (so one address cannot spread
    its guesses over many accounts and many boxes). Read at each call, so settings can change them."""
    per_buyer_and_thing = getattr(settings, "RATE_CLAIM_FAILURES", CLAIM_FAILURE_LIMIT)
    limits = [(f"buyer:{buyer.pk}", per_buyer_and_thing), (f"twin:{twin.pk}", per_buyer_and_thing)]
    if client is not None:
        limits.append(
            (f"client:{client}", getattr(settings, "RATE_CLAIM_FAILURES_PER_CLIENT", CLAIM_FAILURE_LIMIT_PER_CLIENT))
        )
    return limits


def claim(*, twin: Twin, buyer: Owner, code: str, client: str | None = None) -> ProducedThing:
    """Hand the produced `twin` to `buyer` if `code` is its claim code. Raises ClaimRefused: 404 for a twin that
    was not produced, 409 once claimed, 429 after too many wrong codes (per buyer, per thing and, given `client`,
    the keyed id of the request's address from core.ratelimit.client_id, per address), 400 for a wrong code
    (which counts against every budget)."""
    produced = produced_of(twin)
    if produced is None:
        raise ClaimRefused("This thing has no claim code: it was not made by a manufacturer here.", status=404)
    if produced.claimed_at is not None:
        raise ClaimRefused(ALREADY_CLAIMED, status=409)
    limits = _limits(buyer, twin, client)
    for key, limit in limits:
        retry_after = peek("claim-failure", key, limit)
        if retry_after is not None:
            raise ClaimRefused(
                f"Too many wrong claim codes. Try again {wait_text(retry_after)}.", status=429, retry_after=retry_after
            )
    if not claim_code_matches(code, produced.claim_code_hash):
        hit_many("claim-failure", limits)
        raise ClaimRefused(WRONG_CODE)
    return _hand_over(produced, buyer)


@transaction.atomic
def _hand_over(produced: ProducedThing, buyer: Owner) -> ProducedThing:
    now = timezone.now()
    # A conditional UPDATE: of two buyers with the code at the same instant, exactly one matches the row.
    if not ProducedThing.objects.filter(pk=produced.pk, claimed_at__isnull=True).update(
        claimed_at=now, claimed_by=buyer
    ):
        raise ClaimRefused(ALREADY_CLAIMED, status=409)
    account = produced.model.organisation.account
    try:
        offer = offer_create(twin=produced.twin, seller=account, redact_kinds=[])
        offer_accept(offer=offer, buyer=buyer)
    except TransferRefused as exc:
        # Rolls the claim back with it: the code stays usable.
        raise ClaimRefused(exc.message, status=409 if exc.status in (404, 410) else exc.status) from None
    produced.claimed_at, produced.claimed_by = now, buyer
    produced.twin.refresh_from_db()
    return produced


# --- what the twins' seams ask (registered in makers.production.connect) ------------------------------------------


def claim_url(produced: ProducedThing) -> str:
    """The claim page of a produced thing, named by its GS1 identity (printed on the box, so not a secret)."""
    return "/claim" + gs1.build_path(produced.model.gtin, produced.serial)


def gs1_link_of(twin: Twin) -> str | None:
    """The GS1 Digital Link of a produced twin (`SITE_URL/01/<gtin14>/21/<serial>`), else None: what a tag's label
    can carry instead of its token URL."""
    produced = ProducedThing.objects.select_related("model").filter(twin_id=twin.pk).first()
    if produced is None:
        return None
    return settings.SITE_URL + gs1.build_path(produced.model.gtin, produced.serial)


def claim_panel_context(request, twin: Twin) -> dict:
    """The "Claim this thing" panel of a produced, unclaimed twin's public page. The same for every visitor (the
    anonymous page is cached): it links to the claim page, which asks a signed-out visitor to sign in first."""
    produced = (
        ProducedThing.objects.select_related("model__organisation")
        .filter(twin_id=twin.pk, claimed_at__isnull=True)
        .first()
    )
    if produced is None:
        return {"claim": None}
    return {
        "claim": {
            "url": claim_url(produced),
            "model": produced.model.name,
            "maker": produced.model.organisation.name,
        }
    }
