"""A move between two instances survives a SIGKILL of either side mid-move (issue 18), and at every point we look
the twin is live in exactly one place.

Two instances on loopback, A (source) and B (destination), each its own server, worker and SQLite file
(tests/interop/instances.py), driven as in test_move_instances.py. Two twins on A, one per crash:

- **A dies right after its owner confirms.** A's worker is SIGKILLed first (so the push of the package cannot
  have started), the owner confirms, and A's server is SIGKILLed at once. A restarts: its worker pushes, B
  restores, A releases, B activates.
- **B dies with the package in hand, then again after restoring it, before A released.** B's server is frozen
  (SIGSTOP) so that A's push reaches its socket and waits; B is SIGKILLed while the push is in flight. B comes back
  with its server only (no worker, so the arrival is not announced): A's retry pushes, B restores the twin (not
  live: arriving), and B is SIGKILLed again. B restarts with its worker: it tells A, A releases, B activates.

"Live" is read from each instance's database (the twin row: ``moved_to`` empty and not ``arriving``, so it can be
read from an instance that is down) and, from an instance whose server is up, from a public answer: the tag URL
answers 200 where the twin is live, and not 200 (404 there, 308 to the new host) elsewhere.

Slow: about two minutes.
"""

from __future__ import annotations

import pytest

from tests.interop.instances import migrated_database, start_all, stop_all
from tests.interop.test_move_instances import (
    MOVE_CONFIRM,
    MOVE_REQUEST,
    OWNER_ON_DESTINATION,
    move_instances,
    twin_state,
    wait_moved,
)

pytestmark = [pytest.mark.slow, pytest.mark.own_databases]

TWINS = """
from owners.models import Owner
from tags.services import tag_create
from twins.services import reading_add, twin_create

alice = Owner(username="alice", email="alice@example.org")
alice.set_unusable_password()
alice.save()
made = {}
for name in names:
    twin = twin_create(owner=alice, name=name, icon="coffee", reading_kind="grams")
    reading_add(twin=twin, value=17.5, kind="grams", unit="g")
    made[name] = {"slug": twin.slug, "did": twin.did, "tag": tag_create(twin=twin).token}
print(json.dumps(made))
"""

MOVE_OUT = """
from moves.models import MoveOut
move = MoveOut.objects.filter(twin__slug=slug).order_by("-pk").first()
print(json.dumps({"state": move and move.state, "attempts": move and move.attempts, "error": move and move.error}))
"""

MOVE_IN = """
from moves.models import MoveIn
move = MoveIn.objects.filter(pk=pk).first()
print(json.dumps({"state": move and move.state, "error": move and move.error}))
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a, b = move_instances(tmp_path_factory.mktemp("move-kill"), "ab")
    try:
        start_all([a, b], migrated_database(tmp_path_factory.getbasetemp()))
        twins = a.run(TWINS, names=["Source crash", "Destination crash"])
        b.run(OWNER_ON_DESTINATION, username="alice")
        yield a, b, twins
    finally:
        stop_all([a, b])


def live_where(a, b, twin: dict) -> list[str]:
    """The instances where ``twin`` is live, by their databases; each one serving must answer its tag URL
    accordingly (200 where live, not 200 elsewhere)."""
    live = []
    for instance in (a, b):
        state = twin_state(instance, twin["slug"])
        here = state is not None and state["moved_to"] == "" and not state["arriving"]
        if instance.serving:
            status, headers, _ = instance.get(f"/t/{twin['tag']}")
            assert (status == 200) == here, (instance.name, state, status, headers.get("location"))
        if here:
            live.append(instance.name)
    return live


def request(a, b, twin: dict) -> dict:
    asked = b.run(MOVE_REQUEST, username="alice", did=twin["did"])
    assert asked["confirm_url"].startswith(a.url + "/"), asked
    return asked


def test_the_source_killed_right_after_the_owners_confirm_finishes_the_move_when_it_restarts(pair):
    a, b, twins = pair
    twin = twins["Source crash"]
    asked = request(a, b, twin)
    assert live_where(a, b, twin) == ["a"]

    a.kill("worker")  # nothing can push the package now
    a.run(MOVE_CONFIRM, username="alice", confirm_url=asked["confirm_url"], pairing_code=asked["pairing_code"])
    a.kill("server")
    assert a.run(MOVE_OUT, slug=twin["slug"])["state"] == "confirmed"
    assert b.run(MOVE_IN, pk=asked["move"])["state"] == "requested"  # the package never reached B
    assert live_where(a, b, twin) == ["a"]

    a.start()
    wait_moved(a, b, slug=twin["slug"])
    assert live_where(a, b, twin) == ["b"]
    status, headers, _ = a.get(f"/t/{twin['tag']}")
    assert status == 308 and headers["location"] == f"{b.url}/t/{twin['tag']}"


def test_the_destination_killed_with_the_package_in_flight_and_again_after_restoring_finishes_the_move(pair):
    a, b, twins = pair
    twin = twins["Destination crash"]
    asked = request(a, b, twin)

    # B freezes: A's push reaches its socket and waits for an answer that never comes; B dies meanwhile.
    b.freeze()
    a.run(MOVE_CONFIRM, username="alice", confirm_url=asked["confirm_url"], pairing_code=asked["pairing_code"])
    a.wait(
        "MoveOut.objects.filter(twin__slug=slug, state='confirmed', claimed_until__gt=timezone.now()).exists()",
        setup=f"from django.utils import timezone\nfrom moves.models import MoveOut\nslug = {twin['slug']!r}\n",
        timeout=30,
        what="A's worker to be pushing the package",
    )
    assert live_where(a, b, twin) == ["a"]
    b.kill()
    a.wait(
        "MoveOut.objects.filter(twin__slug=slug, attempts__gte=1).exclude(error='').exists()",
        setup=f"from moves.models import MoveOut\nslug = {twin['slug']!r}\n",
        timeout=60,
        what="A's push to fail with B gone",
    )
    assert twin_state(b, twin["slug"]) is None
    assert live_where(a, b, twin) == ["a"]

    # B back without its worker: A's retry delivers, B restores the twin, but nothing tells A yet.
    b.start(worker=False)
    b.wait(
        "MoveIn.objects.filter(pk=pk, state='arrived').exists()",
        setup=f"from moves.models import MoveIn\npk = {asked['move']!r}\n",
        timeout=90,
        what="A's retry to deliver the package to B",
    )
    restored = twin_state(b, twin["slug"])
    assert restored is not None and restored["arriving"], restored
    assert live_where(a, b, twin) == ["a"]
    b.kill()
    assert live_where(a, b, twin) == ["a"]

    b.start()
    wait_moved(a, b, slug=twin["slug"])
    assert live_where(a, b, twin) == ["b"]
    assert a.run(MOVE_OUT, slug=twin["slug"])["state"] == "done"
    assert b.run(MOVE_IN, pk=asked["move"])["state"] == "done"
