"""A did:webvh log verifies the same however its lines are spelled (issue 17's hot path).

The verifier's parse takes orjson when a line is its own compact print, counts colons when it is not, and the full
parse for a ``\\u`` escape; the entry hash and the proof cover the JCS of the entry, not the line's bytes. So every
valid spelling of the same entries gives the same state, and one altered character in any spelling is refused (or,
where it changes no JSON value, still gives that state)."""

from __future__ import annotations

import json

import pytest

from ssi import webvh
from ssi.errors import LogError
from ssi.keys import SigningKey


def _key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


def _log() -> webvh.LogState:
    agent = _key(9)
    template = webvh.document_for(
        webvh.make_did(webvh.SCID_PLACEHOLDER, "example.com", ("twins", "a")),
        signing_keys=[agent.verify_key],
        services=[{"id": "#didcomm", "type": "DIDCommMessaging", "serviceEndpoint": "https://example.com/d/1"}],
    )
    s = webvh.create(
        signer=_key(1),
        domain="example.com",
        path=("twins", "a"),
        document=template,
        version_time="2026-01-01T00:00:00Z",
    )
    s = webvh.update(
        s,
        signer=_key(1),
        document={**s.document, "alsoKnownAs": ["https://example.com/a"]},
        version_time="2026-01-01T00:01:00Z",
    )
    s = webvh.rotate(s, signer=_key(1), update_keys=[_key(2).multibase], version_time="2026-01-01T00:02:00Z")
    return webvh.update(s, signer=_key(2), document=s.document, version_time="2026-01-01T00:03:00Z")


STATE = _log()
COMPACT = STATE.jsonl().splitlines()


def _respell(line: str, how: str) -> str:
    entry = json.loads(line)
    if how == "sorted":  # the JCS of the whole entry: keys sorted at every level
        return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if how == "spaced":
        return json.dumps(entry, indent=None)  # ", " and ": " between members
    if how == "reversed":
        return json.dumps(dict(reversed(list(entry.items()))), separators=(",", ":"))
    if how == "escaped":  # a \u escape and an escaped slash: the full parse
        return json.dumps(entry, separators=(",", ":")).replace("/", "\\/").replace("did:", "did\\u003a", 1)
    raise AssertionError(how)


SPELLINGS = ["sorted", "spaced", "reversed", "escaped"]


@pytest.mark.parametrize("how", SPELLINGS)
def test_a_respelled_log_verifies_to_the_same_state(how):
    respelled = [_respell(line, how) for line in COMPACT]
    assert respelled != COMPACT
    got = webvh.verify_log(respelled)
    assert got.versions == STATE.versions
    assert got.params == STATE.params
    # Mixed spellings, line by line, too.
    mixed = [line if i % 2 else _respell(line, how) for i, line in enumerate(COMPACT)]
    assert webvh.verify_log(mixed).versions == STATE.versions


@pytest.mark.parametrize("how", [None, *SPELLINGS])
@pytest.mark.parametrize("n", range(len(COMPACT)))
def test_one_altered_value_is_refused_in_any_spelling(how, n):
    spelled = [line if how is None else _respell(line, how) for line in COMPACT]
    entry = json.loads(spelled[n])
    for path, new in (
        (("state", "service", 0, "serviceEndpoint"), "https://evil.example/d/1"),
        (("versionTime",), entry["versionTime"].replace(":00Z", ":01Z")),
        (("parameters", "ttl"), 60),
        (("state", "extra"), 1.5),  # a number: the parse's number checks
    ):
        forged = json.loads(spelled[n])
        target = forged
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = new
        lines = list(spelled)
        lines[n] = json.dumps(forged, separators=(",", ":"), ensure_ascii=False)
        with pytest.raises(LogError) as err:
            webvh.verify_log(lines)
        assert err.value.version == n + 1


@pytest.mark.parametrize("member", ['"versionTime":"2026-01-01T00:00:00Z"', '"parameters":{}', '"state":{}'])
def test_a_duplicate_member_is_refused_even_when_it_repeats_the_same_value(member):
    # orjson keeps the last of duplicate keys: the parse must notice the dropped one, whatever it holds.
    line = COMPACT[1]
    forged = "{" + member + "," + line[1:]
    with pytest.raises(LogError, match="duplicate key") as err:
        webvh.verify_log([COMPACT[0], forged, *COMPACT[2:]])
    assert err.value.version == 2
