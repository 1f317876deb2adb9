"""Owners whose keys are self-held move their things (issue 18, moves.self_held): the old host shows the move's two
DID log entries unsigned, the owner signs them offline with the real ``python -m ssi.sign sign NEXT_KEYFILE
entries.json --attach`` (the transfer's tool and format) and uploads the output; from there the move goes on as for
a platform-held owner. Bad uploads (another key, an altered entry, another move's entries, entries the log moved past)
are refused in words with nothing written, and the move stays confirmable. And a destination owner whose keys are
self-held gets the thing handed to their key.
"""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from did_webvh.history import load_local_history
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from moves import services
from moves.models import MoveIn, MoveOut
from owners.keys import owner_register_self_held, owner_signing_key
from owners.models import OwnerKey
from ssi import webvh
from ssi.keys import SigningKey
from ssi.sign import read_key
from ssi.thing_keys import thing_key
from tests.conftest import PASSWORD, api_for, client_for
from tests.moves.conftest import make_room, request_body
from tests.moves.test_parts_harness import B_DOMAIN, mover, on_a  # noqa: F401 (mover and on_a are fixtures)
from twins import moving
from twins import services as twin_services
from twins.identity import log_jsonl, log_state
from twins.models import DidLogEntry, JournalNote, Twin

ROOT = Path(django_settings.BASE_DIR)


def ssi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The offline tools, as an owner runs them: a separate process with nothing but ssi/ behind it."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120
    )


@dataclass
class KeyFiles:
    current: Path
    next: Path

    @property
    def next_public(self) -> str:
        return read_key(self.next).multibase


def self_held_keys(owner, folder: Path) -> KeyFiles:
    """Two key files made with ``python -m ssi.sign keygen``, registered as ``owner``'s keys (current, next)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = KeyFiles(current=folder / "current.key", next=folder / "next.key")
    for path in (files.current, files.next):
        assert ssi("ssi.sign", "keygen", str(path)).returncode == 0
    public = ssi("ssi.sign", "pubkey", str(files.current)).stdout.strip()
    next_hash = ssi("ssi.sign", "nexthash", str(files.next)).stdout.strip()
    owner_register_self_held(owner=owner, public_key=public, next_hash=next_hash)
    return files


def cli_sign(keyfile: Path, entries: list[dict], folder: Path) -> str:
    """``python -m ssi.sign sign KEYFILE entries.json --attach``: its output, as the owner uploads it."""
    path = folder / "entries.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    done = ssi("ssi.sign", "sign", str(keyfile), str(path), "--attach")
    assert done.returncode == 0, done.stderr
    return done.stdout


def log_rows(twin: Twin) -> list[str]:
    return list(DidLogEntry.objects.filter(twin=twin).order_by("version_number").values_list("line", flat=True))


def assert_nothing_written(move_out: MoveOut, twin: Twin, lines_before: list[str]) -> None:
    """The refusal left the request as it was (still confirmable) and the thing untouched."""
    move_out.refresh_from_db()
    twin.refresh_from_db()
    assert move_out.state == MoveOut.State.REQUESTED
    assert move_out.entries is None and move_out.sealed is None and move_out.confirmed_at is None
    assert log_rows(twin) == lines_before
    assert twin.leaving_to == "" and twin.moved_to == ""


# -- the whole move, over real HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def alice_keys(alice, tmp_path) -> KeyFiles:
    return self_held_keys(alice, tmp_path / "alice")


@pytest.fixture
def grinder(alice, alice_keys) -> Twin:
    """Alice's thing, made once her keys are self-held (its log commits to her next key file). It replaces the
    shared grinder, so tests/moves/conftest.py's ``roles`` makes it under the source's DID domain first."""
    return twin_services.twin_create(owner=alice, name="Coffee grinder", reading_kind="grind")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("one_database_parts", "no_worker")
@pytest.mark.parametrize("destination_keys", ["platform-held", "self-held"])
def test_a_self_held_owner_moves_a_thing_end_to_end_signing_with_the_cli(
    roles, settings, alice, alice_keys, bob, grinder, tmp_path, destination_keys
):
    if destination_keys == "self-held":  # bob, on the new host, holds his keys too
        self_held_keys(bob, tmp_path / "bob")
    # The did-webvh package wants every label of a DID's domain at least two characters long ("b.localhost" is
    # refused as an invalid DID), so the destination mints under a name it reads.
    settings.DID_DOMAIN = roles.b_did_domain.replace("b.localhost", "dest.localhost")
    old_did = grinder.did
    assert moving.signs_offline(grinder) and moving.can_move(grinder) is None
    move_in = services.move_request(owner=bob, source=grinder.did)  # B asks A over HTTP
    move_out = MoveOut.objects.get(remote_id=move_in.public_id)

    # The owner's confirmation page on A offers the two halves instead of the one button.
    page = client_for(alice).get(f"/moves/out/{move_out.public_id}/")
    assert page.status_code == 200 and page.context["signs_offline"] is True
    assert b"python -m ssi.sign sign NEXT_KEYFILE entries.json --attach" in page.content
    assert b'data-testid="confirm-move"' not in page.content

    # Over real HTTP to A, as a script would: the entries, signed by the CLI, uploaded.
    token = Token.objects.create(user=alice).key
    http = requests.Session()
    http.headers["Authorization"] = f"Token {token}"
    api = f"{roles.a_url}/api/move-requests/{move_out.public_id}"
    got = http.post(f"{api}/entries", json={"next_public_key": alice_keys.next_public, "password": PASSWORD})
    assert got.status_code == 200, got.text
    entries = got.json()
    assert [e.get("proof") for e in entries] == [None, None]
    # The owner writes in the thing's journal while signing: the history still verifies across the move.
    twin_services.note_create(twin=grinder, title="Cleaned", text="burrs brushed", by=alice)
    signed = cli_sign(alice_keys.next, entries, tmp_path)
    done = http.post(
        f"{api}/signed",
        json={"signed": json.loads(signed), "pairing_code": move_out.pairing_code, "password": PASSWORD},
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == MoveOut.State.CONFIRMED

    # From here exactly as for a platform-held owner: push, arrive, release, activate.
    make_room(grinder)
    assert services.moves_resume() == 1
    assert services.moves_resume() == 1
    move_out.refresh_from_db()
    move_in.refresh_from_db()
    assert (move_out.state, move_in.state) == (MoveOut.State.DONE, MoveIn.State.DONE), (move_out.error, move_in.error)
    source = Twin.objects.get(pk=grinder.pk)
    assert source.moved_to == roles.b_url
    arrived = move_in.twin
    assert arrived.owner == bob and not arrived.arriving
    assert JournalNote.objects.filter(twin=arrived, text="burrs brushed").exists()
    state = log_state(arrived)
    assert state.scid == webvh.parse_did(old_did).scid and state.did != old_did
    bob_key = OwnerKey.objects.get(owner=bob, role=OwnerKey.Role.CURRENT, retired_at__isnull=True)
    # Bob pasted the thing's DID: the new host named his key for this thing (per thing, owners.keys.thing_keys),
    # or, his keys being self-held, his own current key (the platform cannot derive from a public key).
    bobs = bob_key.public_multibase if bob_key.self_held else thing_key(owner_signing_key(bob_key), old_did).multibase
    assert state.update_keys == (bobs,)
    # The move entries are the CLI's signatures by alice's next key.
    moved = [json.loads(line) for line in log_rows(arrived)[-2:]]
    assert moved == json.loads(signed)
    assert log_rows(source) == log_rows(arrived)

    # The moved log and history verify offline (python -m ssi.verify) and with the independent did:webvh package.
    log_path = tmp_path / "did.jsonl"
    log_path.write_text(log_jsonl(arrived), encoding="utf-8")
    ok = ssi("ssi.verify", str(log_path))
    assert ok.returncode == 0 and ok.stdout.strip().endswith(f"owner key {bobs}"), ok.stdout
    from twins.verification import export_bundle

    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text(json.dumps(export_bundle(arrived), ensure_ascii=False), encoding="utf-8")
    ok = ssi("ssi.verify", str(bundle_path))
    assert ok.returncode == 0 and ok.stdout.startswith("OK: "), ok.stdout + ok.stderr
    oracle, meta = asyncio.run(load_local_history(log_path, verify_proofs=True))
    assert oracle.document_id == state.did and meta.version_number == state.version_number
    assert oracle.params["updateKeys"] == [bobs]


# -- refusals: nothing written, the move still confirmable -------------------------------------------------------------


@pytest.fixture
def asked(alice, alice_keys, grinder, no_worker) -> MoveOut:
    """A request from a destination at https://b.example for alice's thing (nothing is ever sent there: no worker)."""
    move, _ = services.request_received(request_body(did=grinder.did))
    return move


def _entries(alice, alice_keys, move: MoveOut) -> list[dict]:
    answer = client_for(alice).post(
        f"/moves/out/{move.public_id}/entries/", {"next_public_key": alice_keys.next_public}
    )
    assert answer.status_code == 200, answer.content
    assert answer["Content-Disposition"] == f'attachment; filename="move-{move.public_id}-entries.json"'
    return json.loads(answer.content)


def _upload(alice, move: MoveOut, signed: str, code: str | None = None):
    """The page's upload, with the pairing code the new host shows (moves.pairing) unless ``code`` says another."""
    return client_for(alice).post(
        f"/moves/out/{move.public_id}/sign/", {"signed": signed, "pairing_code": code or move.pairing_code}
    )


@pytest.mark.django_db
def test_the_signed_upload_takes_the_pairing_code_and_a_wrong_one_writes_nothing(
    alice, alice_keys, grinder, asked, tmp_path
):
    """A self-held owner gives the code with the upload (the download needs none: unsigned entries move nothing)."""
    before = log_rows(grinder)
    signed = cli_sign(alice_keys.next, _entries(alice, alice_keys, asked), tmp_path)
    wrong = _upload(alice, asked, signed, code="AAAA-AAAA")
    assert wrong.status_code == 400 and b"This is not the pairing code of this request" in wrong.content
    assert_nothing_written(asked, grinder, before)
    assert asked.prepared_entries is not None and asked.pairing_failures == 1
    assert _upload(alice, asked, signed).status_code == 302
    asked.refresh_from_db()
    assert asked.state == MoveOut.State.CONFIRMED


@pytest.mark.django_db
def test_the_page_flow_confirms_and_the_thing_leaves_with_the_signed_entries(
    alice, alice_keys, grinder, asked, tmp_path
):
    entries = _entries(alice, alice_keys, asked)
    answer = _upload(alice, asked, cli_sign(alice_keys.next, entries, tmp_path))
    assert answer.status_code == 302 and answer["Location"] == f"/moves/out/{asked.public_id}/"
    asked.refresh_from_db()
    grinder.refresh_from_db()
    assert asked.state == MoveOut.State.CONFIRMED and asked.sealed
    assert [{k: v for k, v in e.items() if k != "proof"} for e in asked.entries] == entries
    assert grinder.leaving_to == "https://b.example"
    # The entries continue the log and name the destination's domain and owner key (release stores them later).
    check = log_state(grinder)
    for entry in asked.entries:
        check = webvh.append_entry(check, entry)
    assert ":b.example:" in check.did and check.update_keys == (asked.owner_update_key,)
    # A second click, or the same upload again, changes nothing; a new download is refused.
    assert _upload(alice, asked, cli_sign(alice_keys.next, entries, tmp_path)).status_code == 302
    again = client_for(alice).post(
        f"/moves/out/{asked.public_id}/entries/", {"next_public_key": alice_keys.next_public}
    )
    assert again.status_code == 409 and b"confirmed already" in again.content
    asked.refresh_from_db()
    assert asked.state == MoveOut.State.CONFIRMED and asked.prepared_entries == entries


@pytest.mark.django_db
def test_entries_signed_by_a_key_the_log_did_not_commit_to_are_refused_with_403(
    alice, alice_keys, grinder, asked, tmp_path
):
    entries = _entries(alice, alice_keys, asked)
    before = log_rows(grinder)
    for wrong in (alice_keys.current, tmp_path / "stranger.key"):
        if not wrong.exists():
            assert ssi("ssi.sign", "keygen", str(wrong)).returncode == 0
        answer = _upload(alice, asked, cli_sign(wrong, entries, tmp_path))
        assert answer.status_code == 403
        assert b"entries were refused" in answer.content
        assert_nothing_written(asked, grinder, before)
    # Still confirmable: the right key's signatures go through.
    assert _upload(alice, asked, cli_sign(alice_keys.next, entries, tmp_path)).status_code == 302
    asked.refresh_from_db()
    assert asked.state == MoveOut.State.CONFIRMED


@pytest.mark.django_db
def test_an_entry_altered_after_download_is_refused_in_words_even_when_signed_by_the_right_key(
    alice, alice_keys, grinder, asked, tmp_path
):
    entries = _entries(alice, alice_keys, asked)
    before = log_rows(grinder)
    thief = SigningKey.generate().multibase
    altered = json.loads(json.dumps(entries))
    altered[1]["parameters"]["updateKeys"] = [thief]  # hand the thing to another key instead
    answer = _upload(alice, asked, cli_sign(alice_keys.next, altered, tmp_path))
    assert answer.status_code == 400
    assert b"not the 2 entries this move needs" in answer.content and b"Download them again" in answer.content
    assert_nothing_written(asked, grinder, before)
    # Half the entries, or not a list at all: the same words, nothing written.
    for bad in (json.dumps(json.loads(cli_sign(alice_keys.next, entries, tmp_path))[:1]), '{"proof": []}'):
        answer = _upload(alice, asked, bad)
        assert answer.status_code == 400 and b"entries this move needs" in answer.content
        assert_nothing_written(asked, grinder, before)
    assert _upload(alice, asked, cli_sign(alice_keys.next, entries, tmp_path)).status_code == 302


@pytest.mark.django_db
def test_entries_of_another_move_are_refused_and_each_move_takes_only_its_own(
    alice, alice_keys, grinder, asked, tmp_path
):
    other, _ = services.request_received(request_body(did=grinder.did, destination="https://c.example"))
    mine, theirs = _entries(alice, alice_keys, asked), _entries(alice, alice_keys, other)
    before = log_rows(grinder)
    answer = _upload(alice, asked, cli_sign(alice_keys.next, theirs, tmp_path))
    assert answer.status_code == 400 and b"entries of another move" in answer.content
    assert_nothing_written(asked, grinder, before)
    assert _upload(alice, asked, cli_sign(alice_keys.next, mine, tmp_path)).status_code == 302


@pytest.mark.django_db
def test_entries_the_log_moved_past_are_refused_as_stale_and_a_new_download_works(
    alice, alice_keys, grinder, asked, tmp_path
):
    stale = cli_sign(alice_keys.next, _entries(alice, alice_keys, asked), tmp_path)
    # The log moves on after the download: the owner's next key rotates the log (here, committing to itself again).
    state = log_state(grinder)
    upcoming = read_key(alice_keys.next)
    entry = webvh.sign_entry(
        webvh.build_entry(
            state, params={"updateKeys": [upcoming.multibase], "nextKeyHashes": [state.next_key_hashes[0]]}
        ),
        upcoming,
    )
    from twins.identity import log_append

    log_append(grinder, state, [entry])
    before = log_rows(grinder)
    answer = _upload(alice, asked, stale)
    assert answer.status_code == 409
    assert b"has changed since you downloaded these entries" in answer.content
    assert_nothing_written(asked, grinder, before)
    fresh = _entries(alice, alice_keys, asked)
    assert _upload(alice, asked, cli_sign(alice_keys.next, fresh, tmp_path)).status_code == 302


@pytest.mark.django_db
def test_the_one_click_confirmation_tells_a_self_held_owner_to_sign_and_writes_nothing(
    alice, alice_keys, grinder, asked
):
    before = log_rows(grinder)
    answer = client_for(alice).post(f"/moves/out/{asked.public_id}/confirm/", {"pairing_code": asked.pairing_code})
    assert answer.status_code == 409
    assert b"self-held: download this move" in answer.content and b"--attach" in answer.content
    assert_nothing_written(asked, grinder, before)


@pytest.mark.django_db
def test_an_upload_before_any_download_and_a_wrong_next_key_are_refused_in_words(alice, alice_keys, grinder, asked):
    before = log_rows(grinder)
    answer = _upload(alice, asked, "[{}]")
    assert answer.status_code == 409 and b"Download this move&#x27;s entries to sign first" in answer.content
    assert_nothing_written(asked, grinder, before)
    for key, status, words in (
        (SigningKey.generate().multibase, 403, b"not the next key"),
        (read_key(alice_keys.current).multibase, 403, b"not the next key"),
        ("z6Mk-not-a-key", 400, b"not an Ed25519 public key"),
    ):
        answer = client_for(alice).post(f"/moves/out/{asked.public_id}/entries/", {"next_public_key": key})
        assert answer.status_code == status and words in answer.content, answer.content
    asked.refresh_from_db()
    assert asked.prepared_entries is None


@pytest.mark.django_db
def test_a_platform_held_owner_is_told_nothing_of_signing_and_someone_else_gets_404(alice, bob, carol, no_worker):
    thing = twin_services.twin_create(owner=bob, name="Kettle")
    move, _ = services.request_received(request_body(did=thing.did))
    page = client_for(bob).get(f"/moves/out/{move.public_id}/")
    assert page.context["signs_offline"] is False and b'data-testid="confirm-move"' in page.content
    # A platform-held owner confirms with the button; the page's signing routes belong to the owner only.
    for path in ("entries/", "sign/"):
        assert client_for(carol).post(f"/moves/out/{move.public_id}/{path}", {}).status_code == 404
    assert api_for(carol).post(f"/api/move-requests/{move.public_id}/entries", {}, format="json").status_code == 404


@pytest.mark.django_db
def test_the_api_needs_a_fresh_login_or_the_password(alice, alice_keys, asked):
    api = api_for(alice, token=True)
    url = f"/api/move-requests/{asked.public_id}/entries"
    answer = api.post(url, {"next_public_key": alice_keys.next_public}, format="json")
    assert answer.status_code == 403 and "password" in answer.json()["message"]
    answer = api.post(url, {"next_public_key": alice_keys.next_public, "password": "wrong"}, format="json")
    assert answer.status_code == 403
    asked.refresh_from_db()
    assert asked.prepared_entries is None
    answer = api.post(url, {"next_public_key": alice_keys.next_public, "password": PASSWORD}, format="json")
    assert answer.status_code == 200 and len(answer.json()) == 2


@pytest.mark.django_db
def test_a_request_that_expired_cannot_be_signed(alice, alice_keys, grinder, asked, tmp_path):
    entries = _entries(alice, alice_keys, asked)
    MoveOut.objects.filter(pk=asked.pk).update(expires_at=timezone.now())
    answer = _upload(alice, asked, cli_sign(alice_keys.next, entries, tmp_path))
    assert answer.status_code == 410 and b"expired" in answer.content
    answer = client_for(alice).post(
        f"/moves/out/{asked.public_id}/entries/", {"next_public_key": alice_keys.next_public}
    )
    assert answer.status_code == 410


# -- a destination owner whose keys are self-held ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.needs("credentials")
def test_a_destination_owner_with_self_held_keys_gets_the_thing_handed_to_their_key(mover, carol, bob, tmp_path):
    """Every part, the credentials too (tests/moves/test_parts_harness.py): the log ends with bob's self-held key,
    committing to his next key file; his ownership credential names his did:key; only he can move it on."""
    from credentials.models import OwnershipCredential
    from credentials.services import holder_did

    thing = twin_services.twin_create(owner=carol, name="Drill")
    bob_keys = self_held_keys(bob, tmp_path / "bob")
    _, arrived = mover(thing, to_owner=bob, activate=True)
    assert arrived.owner == bob and not arrived.arriving
    state = log_state(arrived)
    assert state.update_keys == (ssi("ssi.sign", "pubkey", str(bob_keys.current)).stdout.strip(),)
    assert state.next_key_hashes == (webvh.next_key_hash(bob_keys.next_public),)
    assert B_DOMAIN in state.did
    (credential,) = OwnershipCredential.objects.filter(twin=arrived, revoked_at__isnull=True)
    assert credential.holder == bob and credential.holder_did == holder_did(bob)
    # This host holds no key of his: moving it on again is his to sign, with his next key file.
    assert moving.signs_offline(arrived)
    entries = moving.move_entries_unsigned(
        arrived,
        by=bob,
        revealed_key=bob_keys.next_public,
        new_domain="c.example.com",
        new_update_key=SigningKey.generate().multibase,
        new_next_key_hash=webvh.next_key_hash(SigningKey.generate().multibase),
        destination_url="https://c.example.com",
    )
    signed = json.loads(cli_sign(bob_keys.next, entries, tmp_path))
    assert moving.move_entries_signed(arrived, by=bob, signed=signed, prepared=entries) == signed
