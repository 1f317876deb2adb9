"""Values for tests/test_access_matrix.py: a support case of alice's about her thing (over the thing's
connection), and one in the queue of her organisation (tests/makers/matrix.py)."""

from __future__ import annotations

from support.models import Case


def case_id(world, route) -> str:
    """The owner's case on /support/<case_id>/..., the organisation's on /orgs/<slug>/support/<case_id>/...."""
    if route.route.startswith(("orgs/", "api/orgs/")):
        from tests.makers.matrix import org_world

        organisation = org_world(world).organisation
        case, _ = Case.objects.get_or_create(
            side=Case.Side.PARTY,
            connection=world.own_connection,
            thread_id="matrix-case",
            defaults={
                "organisation": organisation,
                "subject": "Matrix case of alice zq",
                "peer_label": "Peer of alice zq",
            },
        )
        return case.public_id
    case, _ = Case.objects.get_or_create(
        side=Case.Side.OWNER,
        connection=world.thing_connection,
        thread_id="matrix-case",
        defaults={"owner": world.alice, "twin": world.thing, "subject": "Matrix case of alice zq"},
    )
    return case.public_id
