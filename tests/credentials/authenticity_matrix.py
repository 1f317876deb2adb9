"""Values for tests/test_access_matrix.py: an authenticity credential of alice's thing, issued by her
organisation (tests/makers/matrix.py), made once per world when a route first needs it."""

from __future__ import annotations

from django.utils import timezone

from credentials.authenticity import Made, authenticity_issue
from credentials.authenticity_models import AuthenticityCredential
from makers.authenticity import issuer_of


def authenticity_of(world) -> AuthenticityCredential:
    cached = getattr(world, "_authenticity", None)
    if cached is not None:
        return cached
    organisation = __import__("tests.makers.matrix", fromlist=["*"]).org_world(world).organisation
    (credential,) = authenticity_issue(
        issuer=issuer_of(organisation),
        things=[
            Made(
                twin=world.thing,
                model="Matrix grinder",
                serial="AM-1",
                produced_at=timezone.now(),
                manufacturer_name=organisation.name,
            )
        ],
    )
    world._authenticity = credential
    return credential
