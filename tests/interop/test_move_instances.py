"""Moving a twin between two instances (issue 18), end to end: three Thingstead instances on loopback and a real
ACA-Py peer.

A (the source) holds the twin, its tag, a DIDComm connection to ACA-Py and one to the organisation agent of the
manufacturer on M, and a grant of its readings to the manufacturer over that connection (as in
test_two_instances.py, with the twin's own agent). The owner moves it to B: ``move_request`` on B (the owner there
names the twin's DID; B finds A through MOVES_HOST_URLS), ``move_confirm`` on A as the twin's owner, then only the
instances' workers and periodic jobs run. Afterwards:

- the old tag URL on A answers 308 to B, and B answers it with the twin's public page;
- ACA-Py's next basic message reaches the twin on B (its connection was rotated to B), none reaches A;
- the manufacturer's next notification (a reading added on B under the moved grant) reaches M from B;
- the independent ``did-webvh`` resolver accepts the moved log as A serves it and as B serves it (same SCID,
  B's domain, B's owner key), and ``python -m ssi.verify`` accepts both logs and the history exported from B.

Each instance is its own processes and database (tests/interop/instances.py); one set for the module, booted
while ACA-Py starts. Slow: about two minutes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid

import pytest
from did_webvh.const import HISTORY_FILENAME, WITNESS_FILENAME
from did_webvh.core.file_utils import AsyncTextGenerator, read_url
from did_webvh.core.resolver import DidResolver
from did_webvh.history import WebvhHistoryResolver, did_base_url
from did_webvh.verify import WebvhVerifier

from ssi import oob, webvh
from tests.interop.acapy_live import AcaPyAgent
from tests.interop.instances import ROOT, Booting, Instance
from tests.interop.test_two_instances import GTIN, MANUFACTURER_SETUP, SERIAL

pytestmark = [pytest.mark.slow, pytest.mark.own_databases]

BASIC_MESSAGE = "https://didcomm.org/basicmessage/1.0/message"

# Every instance finds every other from a DID's domain (design: MOVES_HOST_URLS); a short task lease makes the
# workers' periodic jobs tick every two seconds (core.worker: every quarter lease) and requeue a killed worker's
# task within seconds; moves retry a failed step and run their resume job within seconds, not minutes.
MOVE_SETTINGS = """
MOVES_HOST_URLS = {hosts!r}
TASK_LEASE_SECONDS = 8
MOVES_RESUME_EVERY_SECONDS = 1
MOVES_BACKOFF_SECONDS = 1
"""


def move_instances(workdir, names: str) -> list[Instance]:
    """Instances named by the letters of ``names``, each knowing the others' DID domains."""
    instances = [Instance(name, workdir) for name in names]
    hosts = {instance.did_domain: instance.url for instance in instances}
    for instance in instances:
        instance.settings = MOVE_SETTINGS.format(hosts=hosts)
    return instances


# -- the move, as the pages would drive it ----------------------------------------------------------------------

OWNER_ON_DESTINATION = """
from owners.keys import owner_keys_ensure
from owners.models import Owner

owner = Owner(username=username, email=username + "@example.org")
owner.set_unusable_password()
owner.save()
owner_keys_ensure(owner=owner)
print(json.dumps({"owner": owner.pk}))
"""

# B asks A at once (its worker asks again if A could not be reached); A's answer names the page to confirm on.
MOVE_REQUEST = """
import time
from moves import services
from moves.models import MoveIn
from owners.models import Owner

move = services.move_request(owner=Owner.objects.get(username=username), source=did)
deadline = time.monotonic() + 30
while not move.confirm_url and move.state in MoveIn.OPEN and time.monotonic() < deadline:
    time.sleep(0.2)
    move.refresh_from_db()
# The pairing code B shows its owner on the move's page (moves.pairing): the owner types it on A.
print(json.dumps({
    "move": move.pk, "confirm_url": move.confirm_url, "state": move.state, "error": move.error,
    "pairing_code": move.pairing_code,
}))
"""

# As the confirm page does, by the twin's owner with the code B showed (the page's fresh-login rule is the page's own
# test): A computes the same code from its own row, so a wrong one here would fail the move.
MOVE_CONFIRM = """
from moves import services
from moves.models import MoveOut
from owners.models import Owner

move = MoveOut.objects.get(public_id=confirm_url.rstrip("/").rsplit("/", 1)[-1])
services.move_confirm(move_out=move, by=Owner.objects.get(username=username), pairing_code=pairing_code)
move.refresh_from_db()
print(json.dumps({"move": move.public_id, "state": move.state}))
"""

# Where the twin lives, as each instance's database says (by slug: the slug moves with the twin).
TWIN_STATE = """
from twins.models import Twin

twin = Twin.objects.filter(slug=slug).first()
state = None if twin is None else {
    "did": twin.did, "moved_to": twin.moved_to, "arriving": twin.arriving, "owner": twin.owner.username,
}
print(json.dumps({"twin": state}))
"""


def twin_state(instance: Instance, slug: str) -> dict | None:
    return instance.run(TWIN_STATE, slug=slug)["twin"]


def move(source: Instance, destination: Instance, *, did: str, owner: str, new_owner: str) -> dict:
    """Ask on ``destination``, confirm on ``source``; returns the request's answer (the workers do the rest)."""
    asked = destination.run(MOVE_REQUEST, username=new_owner, did=did)
    assert asked["confirm_url"].startswith(source.url + "/"), asked
    source.run(MOVE_CONFIRM, username=owner, confirm_url=asked["confirm_url"], pairing_code=asked["pairing_code"])
    return asked


def wait_moved(source: Instance, destination: Instance, *, slug: str, timeout: float = 90) -> None:
    destination.wait(
        "Twin.objects.filter(slug=slug, arriving=False, moved_to='').exists()",
        setup=f"from twins.models import Twin\nslug = {slug!r}\n",
        timeout=timeout,
        what="the twin to be live on the destination",
    )
    source.wait(
        "Twin.objects.filter(slug=slug, moved_to=url).exists()",
        setup=f"from twins.models import Twin\nslug = {slug!r}\nurl = {destination.url!r}\n",
        timeout=10,
        what="the twin to be marked moved on the source",
    )


# -- the scene on A, M and ACA-Py -------------------------------------------------------------------------------

OWNER_SETUP = """
from didcomm import outbox
from didcomm.services import agent_for_twin, agent_invitation_accept
from owners.models import Owner
from tags.services import tag_create
from twins.services import twin_create

alice = Owner(username="alice", email="alice@example.org")
alice.set_unusable_password()
alice.save()
twin = twin_create(owner=alice, name="Grindmaster 3000", icon="coffee", serial=serial, reading_kind="grams")
tag = tag_create(twin=twin)
to_peer = outbox.invitation_create(agent=agent_for_twin(twin))
to_maker = agent_invitation_accept(owner=alice, invitation_url=invitation, twin=twin)
print(json.dumps({
    "twin": twin.pk, "slug": twin.slug, "did": twin.did, "tag": tag.token, "peer_invitation": to_peer.invitation_url,
    "peer": to_peer.pk, "maker": to_maker.pk,
}))
"""

# Once both connections are complete: the readings granted to the manufacturer over the twin's connection, and
# a first reading (which must reach M from A).
GRANT = """
import time
from didcomm.models import Connection
from owners.models import Owner
from sharing.grants import grant_create
from twins.models import Twin
from twins.services import reading_add

deadline = time.monotonic() + 60
while Connection.objects.filter(pk__in=[peer, maker]).exclude(state="completed").exists():
    assert time.monotonic() < deadline, list(Connection.objects.values_list("pk", "state", "error"))
    time.sleep(0.3)
twin = Twin.objects.get(pk=twin_id)
alice = Owner.objects.get(username="alice")
grant_create(twin=twin, party=Connection.objects.get(pk=maker), kinds=["readings"], by=alice)
reading_add(twin=twin, value=17.5, kind="grams", unit="g")
print(json.dumps({}))
"""

RECEIVED_AT_M = """
from sharing.models import ReceivedNotification
rows = ReceivedNotification.objects.filter(kind="readings").select_related("connection")
print(json.dumps({"received": [
    {"thing": r.thing, "body": json.dumps(r.body), "connection": r.connection_id,
     "endpoint": r.connection.their_endpoint, "verkey": r.connection.their_verkey}
    for r in rows
]}))
"""

INBOUND_BASIC = """
from didcomm.models import InboundMessage
rows = InboundMessage.objects.filter(type=basic, body__content=content).select_related("agent__twin")
print(json.dumps({"got": [r.agent.twin.slug if r.agent.twin_id else None for r in rows]}))
"""


@pytest.fixture(scope="module")
def booting(tmp_path_factory):
    boot = Booting(move_instances(tmp_path_factory.mktemp("move"), "abm"), tmp_path_factory.getbasetemp())
    yield boot
    boot.stop()


@pytest.fixture(scope="module")
def acapy_agent(booting, acapy_python, acapy_webhooks, tmp_path_factory):
    """The session agent's setup (conftest.py), for this module: started after ``booting`` has set the instances
    going, so that both start side by side (a session fixture would start before any module's)."""
    agent = AcaPyAgent(
        python=acapy_python, workdir=tmp_path_factory.mktemp("acapy-move"), webhook_url=acapy_webhooks.url
    ).start()
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def scene(booting, acapy_agent, acapy_webhooks):
    """The twin on A, connected to ACA-Py and to the manufacturer on M, its readings granted to M; both
    connections shown to work before the move (a basic message from ACA-Py and a reading reach their ends)."""
    a, b, m = booting.ready()  # booted while ACA-Py started
    invitation = m.run(MANUFACTURER_SETUP, gtin=GTIN)["invitation"]
    made = a.run(OWNER_SETUP, invitation=invitation, serial=SERIAL)
    record = acapy_agent.admin(
        "POST", "/out-of-band/receive-invitation?auto_accept=true", oob.parse_url(made["peer_invitation"]).message
    )
    acapy_connection = record["connection_id"]
    acapy_webhooks.webhooks.wait_for("connections", connection_id=acapy_connection, rfc23_state="completed", timeout=60)
    a.run(GRANT, peer=made["peer"], maker=made["maker"], twin_id=made["twin"])
    b.run(OWNER_ON_DESTINATION, username="alice")

    hello = f"before the move {uuid.uuid4()}"
    acapy_agent.admin("POST", f"/connections/{acapy_connection}/send-message", {"content": hello})
    m.wait(
        "ReceivedNotification.objects.filter(kind='readings').exists()",
        setup="from sharing.models import ReceivedNotification\n",
        what="the granted reading to reach the manufacturer from A",
    )
    before = m.run(RECEIVED_AT_M)["received"]
    assert len(before) == 1 and "17.5" in before[0]["body"] and before[0]["endpoint"].startswith(a.url)
    assert a.run(INBOUND_BASIC, basic=BASIC_MESSAGE, content=hello) == {"got": [made["slug"]]}
    maker_connection = before[0]["connection"]
    return {**made, "a": a, "b": b, "m": m, "acapy_connection": acapy_connection, "maker_connection": maker_connection}


@pytest.fixture(scope="module")
def moved(scene):
    """The move from A to B, driven as the pages would, run to its end by the workers."""
    a, b = scene["a"], scene["b"]
    assert twin_state(b, scene["slug"]) is None
    move(a, b, did=scene["did"], owner="alice", new_owner="alice")
    wait_moved(a, b, slug=scene["slug"])
    return scene


def test_after_the_move_the_twin_lives_on_b_only(moved):
    a, b = moved["a"], moved["b"]
    on_a, on_b = twin_state(a, moved["slug"]), twin_state(b, moved["slug"])
    assert on_a["moved_to"] == b.url and not on_a["arriving"]
    assert on_b["moved_to"] == "" and not on_b["arriving"] and on_b["owner"] == "alice"
    old, new = webvh.parse_did(moved["did"]), webvh.parse_did(on_b["did"])
    assert new.scid == old.scid and new.path == old.path
    assert f"{new.host}:{new.port}" == b.did_domain


def test_the_old_tag_url_answers_308_to_b_and_b_shows_the_twin(moved):
    a, b = moved["a"], moved["b"]
    path = f"/t/{moved['tag']}"
    status, headers, _ = a.get(path)
    assert status == 308 and headers["location"] == b.url + path, (status, headers)
    status, headers, body = b.get(headers["location"])
    for _ in range(3):  # B may send the scanner on to the twin's public page
        if status not in (301, 302, 303, 307, 308):
            break
        status, headers, body = b.get(headers["location"])
    assert status == 200, (status, headers)
    assert "Grindmaster 3000" in body
    # The twin's own pages on A send its owner on too, to where the owner's account on B opens it.
    page = f"/things/{moved['slug']}/"
    status, headers, _ = a.get(page, headers={"Cookie": a.session_cookie("alice")})
    assert status == 308 and headers["location"] == b.url + page, (status, headers)
    status, _, body = b.get(headers["location"], headers={"Cookie": b.session_cookie("alice")})
    assert status == 200 and "Grindmaster 3000" in body, status


def test_the_peers_next_basic_message_reaches_b_not_a(moved, acapy_agent):
    a, b = moved["a"], moved["b"]
    # B rotated the connection (RFC 0794) to a DID whose endpoint is B's: ACA-Py follows it.
    deadline = time.monotonic() + 60
    while True:
        record = acapy_agent.admin("GET", f"/connections/{moved['acapy_connection']}")
        endpoint = json.dumps(acapy_agent.admin("GET", f"/resolver/resolve/{record['their_did']}"))
        if b.url in endpoint or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert b.url in endpoint and a.url not in endpoint, (record, endpoint)

    content = f"after the move {uuid.uuid4()}"
    acapy_agent.admin("POST", f"/connections/{moved['acapy_connection']}/send-message", {"content": content})
    b.wait(
        "InboundMessage.objects.filter(type=basic, body__content=content).exists()",
        setup=f"from didcomm.models import InboundMessage\nbasic = {BASIC_MESSAGE!r}\ncontent = {content!r}\n",
        timeout=30,
        what="ACA-Py's basic message to reach the moved twin on B",
    )
    assert b.run(INBOUND_BASIC, basic=BASIC_MESSAGE, content=content) == {"got": [moved["slug"]]}
    assert a.run(INBOUND_BASIC, basic=BASIC_MESSAGE, content=content) == {"got": []}


def test_the_manufacturers_next_notification_comes_from_b(moved):
    b, m = moved["b"], moved["m"]
    b.run(
        """
        from twins.models import Twin
        from twins.services import reading_add
        reading_add(twin=Twin.objects.get(slug=slug), value=42.25, kind="grams", unit="g")
        print(json.dumps({}))
        """,
        slug=moved["slug"],
    )
    m.wait(
        "any('42.25' in json.dumps(r.body) for r in ReceivedNotification.objects.filter(kind='readings'))",
        setup="from sharing.models import ReceivedNotification\n",
        timeout=60,
        what="the reading added on B to reach the manufacturer",
    )
    after = [row for row in m.run(RECEIVED_AT_M)["received"] if "42.25" in row["body"]]
    assert len(after) == 1
    # Over the same connection, now rotated to the twin's DID on B: its endpoint is B's.
    assert after[0]["connection"] == moved["maker_connection"]
    assert after[0]["endpoint"].startswith(b.url), after[0]
    assert webvh.parse_did(after[0]["thing"]).scid == webvh.parse_did(moved["did"]).scid


class LoopbackHistoryResolver(WebvhHistoryResolver):
    """did-webvh's own resolver, reading https://<did domain>/... from http://127.0.0.1:PORT/... (the DID names a
    two-label DNS name, FACTS.md; the instance serving the log listens on loopback)."""

    def __init__(self, domain: str, serving: Instance) -> None:
        self.public = f"https://{domain}/"
        self.loopback = serving.url + "/"
        self.fetched: list[str] = []

    def _local(self, url: str) -> str:
        assert url.startswith(self.public), f"the DID maps to {url}, not to {self.public}"
        self.fetched.append(self.loopback + url.removeprefix(self.public))
        return self.fetched[-1]

    def resolve_entry_log(self, document_id: str) -> AsyncTextGenerator:
        return read_url(self._local(did_base_url(document_id) + HISTORY_FILENAME))

    def resolve_witness_log(self, document_id: str) -> AsyncTextGenerator:
        return read_url(self._local(did_base_url(document_id) + WITNESS_FILENAME))


def oracle_resolve(did: str, domain: str, serving: Instance) -> tuple[dict, dict, dict]:
    source = LoopbackHistoryResolver(domain, serving)

    async def run():
        resolver = DidResolver(WebvhVerifier(verify_proofs=True))
        result = await resolver.resolve(did, source)
        state, _ = await resolver.resolve_state(did, source)
        return result, state

    result, state = asyncio.run(run())
    assert source.fetched, "nothing was fetched"
    assert result.resolution_metadata is None, result.resolution_metadata
    return result.document, result.document_metadata, state.params


def ssi_verify(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ssi.verify", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_moved_log_served_by_a_and_by_b_resolves_with_did_webvh_and_verifies_offline(moved, tmp_path):
    a, b = moved["a"], moved["b"]
    new_did = twin_state(b, moved["slug"])["did"]
    logs = {}
    for instance in (a, b):
        status, _, text = instance.get(f"/twins/{moved['slug']}/did.jsonl")
        assert status == 200 and text.strip(), (instance.name, status)  # did-webvh hangs on an empty log
        logs[instance.name] = text
    assert logs["a"] == logs["b"]
    owner_key = b.run(
        """
        from owners.keys import owner_keys_ensure, thing_keys
        from owners.models import Owner
        keys = owner_keys_ensure(owner=Owner.objects.get(username="alice"))
        # Her key here for this thing (she asked for it by its DID): per thing, owners.keys.thing_keys.
        print(json.dumps({"key": thing_keys(keys, did).update_key}))
        """,
        did=new_did,
    )["key"]

    for serving in (a, b):
        document, meta, params = oracle_resolve(new_did, b.did_domain, serving)
        assert document["id"] == new_did
        assert params["updateKeys"] == [owner_key]
        assert meta["deactivated"] is False
        assert meta["versionNumber"] == len(logs["a"].strip().splitlines())

    for name, text in logs.items():
        path = tmp_path / f"did-{name}.jsonl"
        path.write_text(text, encoding="utf-8")
        ok = ssi_verify(path)
        assert ok.returncode == 0, (name, ok.stdout + ok.stderr)
        assert ok.stdout.strip().endswith(f"{new_did}, owner key {owner_key}"), ok.stdout

    bundle = b.run(
        """
        from twins.models import Twin
        from twins.verification import export_bundle
        print(json.dumps({"bundle": export_bundle(Twin.objects.get(slug=slug))}, ensure_ascii=False))
        """,
        slug=moved["slug"],
    )["bundle"]
    assert bundle["did"] == new_did
    kinds = [entry["kind"] for entry in bundle["history"]]
    assert kinds[0] == "created" and "reading" in kinds
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    ok = ssi_verify(path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK: ") and ok.stdout.strip().endswith(f"owner key {owner_key}"), ok.stdout
