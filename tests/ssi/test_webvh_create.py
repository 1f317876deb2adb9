"""ssi.webvh.create builds and signs a DID's first entry without verifying it again (issue 16: a third of an
inception's CPU): the state it returns must be exactly what verify_log, and the independent did-webvh resolver,
make of the log it wrote; what building cannot guarantee (the signer among the update keys, the time, the
parameters' shape) it still refuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from did_webvh.history import load_local_history
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssi import webvh
from ssi.errors import LogError
from ssi.keys import SigningKey

DOMAIN = "example.com:8000"


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


def template(agent: SigningKey, domain: str = DOMAIN, path: tuple[str, ...] = ("twins", "abc")) -> dict:
    return webvh.document_for(
        webvh.make_did(webvh.SCID_PLACEHOLDER, domain, path),
        signing_keys=[agent.verify_key],
        agreement_keys=[agent.verify_key.to_x25519().multibase],
        services=[{"id": "#didcomm", "type": "did-communication", "serviceEndpoint": "https://example.com/didcomm/"}],
        also_known_as=["did:example:before"],
    )


options = st.fixed_dictionaries(
    {
        "signer": st.integers(1, 2**16),
        "extra_update_keys": st.lists(st.integers(2**17, 2**18), max_size=2),
        "next_keys": st.lists(st.integers(2**19, 2**20), max_size=2),
        "portable": st.booleans(),
        "ttl": st.none() | st.integers(1, 10**6),
        "path": st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True), max_size=3).filter(
            lambda p: not {".", ".."} & set(p)
        ),
        "seconds_ago": st.integers(0, 10**8),
        "name": st.text(max_size=20),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(options)
def test_what_create_returns_is_what_verify_log_makes_of_the_lines_it_wrote(o):
    signer = key(o["signer"])
    doc = template(key(o["signer"] + 7), path=tuple(o["path"])) | {"name": o["name"]}
    when = datetime.now(UTC) - timedelta(seconds=o["seconds_ago"])
    state = webvh.create(
        signer=signer,
        domain=DOMAIN,
        path=tuple(o["path"]),
        document=doc,
        update_keys=[signer.multibase, *(key(n).multibase for n in o["extra_update_keys"])],
        next_key_hashes=[webvh.next_key_hash(key(n).multibase) for n in o["next_keys"]],
        portable=o["portable"],
        ttl=o["ttl"],
        version_time=when,
    )
    assert webvh.verify_jsonl(state.jsonl()) == state


def test_a_created_twin_like_log_is_accepted_by_the_did_webvh_resolver(tmp_path):
    signer = key(1)
    state = webvh.create(
        signer=signer,
        domain=DOMAIN,
        path=("twins", "t1"),
        document=template(key(2), path=("twins", "t1")),
        next_key_hashes=[webvh.next_key_hash(key(3).multibase)],
        portable=True,
    )
    path = tmp_path / "did.jsonl"
    path.write_text(state.jsonl())
    _, meta = asyncio.run(load_local_history(path, verify_proofs=True))
    assert meta.serialize()["versionId"] == state.version_id


def test_create_verifies_no_signature_of_its_own(monkeypatch):
    # The proof it just made is not checked again; a log read back is (verify_log, below).
    def refuse(*args, **kwargs):
        raise AssertionError("create verified a signature")

    monkeypatch.setattr(webvh, "verify_with_key", refuse)
    state = webvh.create(signer=key(1), domain=DOMAIN, document=template(key(2), path=()))
    monkeypatch.undo()
    assert webvh.verify_jsonl(state.jsonl()).version_id == state.version_id


def test_a_signer_outside_the_update_keys_is_refused():
    with pytest.raises(LogError, match="not an authorised update key"):
        webvh.create(signer=key(1), domain=DOMAIN, document=template(key(2), path=()), update_keys=[key(3).multibase])


def test_a_version_time_more_than_five_minutes_ahead_is_refused():
    with pytest.raises(LogError, match="in the future"):
        webvh.create(
            signer=key(1),
            domain=DOMAIN,
            document=template(key(2), path=()),
            version_time=datetime.now(UTC) + timedelta(minutes=6),
        )


@pytest.mark.parametrize("ttl", [0, -5, True])
def test_a_bad_ttl_is_refused(ttl):
    with pytest.raises(LogError, match="ttl"):
        webvh.create(signer=key(1), domain=DOMAIN, document=template(key(2), path=()), ttl=ttl)


def test_a_document_whose_id_is_another_dids_is_refused():
    doc = template(key(2), path=()) | {"id": "did:webvh:{SCID}:other.example.org:x:y%41"}
    with pytest.raises(LogError, match=r"state\.id"):
        webvh.create(signer=key(1), domain=DOMAIN, document=doc)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_a_log_holding_characters_splitlines_would_split_at_verifies(separator):
    # JSON keeps these raw inside strings; did.jsonl's lines end at "\n" only.
    doc = template(key(2), path=())
    doc["alsoKnownAs"] = [f"https://example.com/a{separator}b"]
    state = webvh.create(signer=key(1), domain=DOMAIN, document=doc)
    assert separator in state.jsonl()
    assert webvh.verify_jsonl(state.jsonl()) == state
