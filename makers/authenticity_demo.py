"""The demo shop's policy with the demo manufacturer: the demo owner, acting as a shop, gives its discount to
owners of a grinder Acme Grinders (makers.demo) made, as its authenticity credential says."""

from __future__ import annotations

from typing import Any

from credentials.models import VerifierPolicy
from makers.demo import DEMO_SLUG
from makers.models import Organisation


def demo_policy(twin: Any) -> None:
    """twins.demo step, after makers.demo's: the demo owner's shop discount accepts grinders made by the demo
    manufacturer (an ownership credential of a thing holding Acme Grinders' authenticity credential)."""
    organisation = Organisation.objects.filter(slug=DEMO_SLUG).first()
    if organisation is None or twin.icon != "coffee":
        return
    models = list(organisation.product_models.values_list("name", flat=True))
    VerifierPolicy.objects.update_or_create(
        owner=twin.owner,
        name="Acme grinder discount",
        defaults={"accepted_models": models, "manufacturers": [organisation.did]},
    )


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready, after makers.demo: steps run in order)."""
    from twins.demo import register_demo_step

    register_demo_step(demo_policy)
