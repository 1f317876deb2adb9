"""The did:webvh verifier's cheaper readings (bench/verify.py, issue 17) give the verdicts of the readings they
replaced: a versionTime read without its pattern, a versionId number compared as a string, an entry hash compared
by encoding instead of decoding (on both base58 paths), and an unchanged DID or parameter set taken over from the
previous entry."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssi import multibase, webvh
from ssi.errors import EncodingError, LogError, SSIError
from ssi.keys import SigningKey
from ssi.multibase import ALPHABET, b58_spells, b58decode, b58encode

B58_PATHS = [pytest.param(False, id="pure")] + ([pytest.param(True, id="gmpy2")] if multibase._mpz is not None else [])


@pytest.fixture(params=B58_PATHS)
def b58_accelerated(request, monkeypatch):
    monkeypatch.setattr(multibase, "ACCELERATED", request.param)
    return request.param


def decodes_to(text: str, data: bytes) -> bool:
    try:
        return b58decode(text) == data
    except EncodingError:
        return False


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    zeros=st.integers(0, 3),
    body=st.binary(max_size=40),
    text=st.text(alphabet=ALPHABET[:6] + "0OIl+-_ é\ud800", max_size=8),
    where=st.integers(0, 60),
)
def test_b58_spells_answers_as_decoding_does(b58_accelerated, zeros, body, text, where):
    data = b"\0" * zeros + body
    spelled = b58encode(data)
    assert b58_spells(spelled, data)
    # Any other text: a foreign character, a changed or missing digit, a leading "1" more or less.
    for other in (text, spelled[:where] + text + spelled[where:], "1" + spelled, spelled[1:], spelled + "1"):
        assert b58_spells(other, data) == decodes_to(other, data), other


def reference_parse_time(raw):
    """versionTime as the verifier read it before (pattern, then fromisoformat)."""
    if not isinstance(raw, str) or not webvh._TIME_RE.match(raw):
        raise SSIError("versionTime must be an ISO 8601 UTC time like 2025-01-01T00:00:00Z")
    return datetime.fromisoformat(raw)


def outcome(fn, raw):
    try:
        return fn(raw)
    except (SSIError, ValueError) as exc:
        return type(exc)


TIMES = [
    "2026-01-02T03:04:05Z",
    "2026-01-02T03:04:05.5Z",
    "2026-01-02T03:04:05.123456789Z",
    "2026-13-02T03:04:05Z",
    "2026-02-30T03:04:05Z",
    "2026-01-02T24:04:05Z",
    "2026-01-02 03:04:05Z",
    "2026-01-02T03:04:05z",
    "2026-01-02T03:04:05+00:00",
    "2026-01-02T03:04:05Z\n",
    "2026-W01-1T03:04:05Z",
    "20260102T030405Z000000",
    "٢026-01-02T03:04:05Z",
    "2026-01-02T03:04:0\ud800Z",
    "",
]


@pytest.mark.parametrize("raw", TIMES)
def test_a_version_time_is_read_as_the_pattern_reads_it(raw):
    assert outcome(webvh._parse_time, raw) == outcome(reference_parse_time, raw)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789-T:Z.z+ ٢W", min_size=18, max_size=22) | st.sampled_from(TIMES))
def test_any_version_time_is_read_as_the_pattern_reads_it(raw):
    assert outcome(webvh._parse_time, raw) == outcome(reference_parse_time, raw)


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


def two_entry_lines(version_id: str | None = None) -> list[str]:
    s = webvh.create(signer=key(1), domain="example.com", path=("twins", "x"), version_time="2026-01-01T00:00:00Z")
    entry = webvh.build_entry(s, version_time="2026-01-02T00:00:00Z")
    if version_id is not None:
        entry["versionId"] = version_id(entry["versionId"])
    return [*s.jsonl().splitlines(), json.dumps(webvh.sign_entry(entry, key(1)))]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v[:10] + "0" + v[11:], "versionId must be '<number>-<entryHash>'"),
        (lambda v: v[:10] + "l" + v[11:], "versionId must be '<number>-<entryHash>'"),
        (lambda v: v[:10] + "é" + v[11:], "versionId must be '<number>-<entryHash>'"),
        (lambda v: v + "-x", "versionId must be '<number>-<entryHash>'"),
        (lambda v: v + "\n", "versionId must be '<number>-<entryHash>'"),
        (lambda v: "0" + v, "versionId must be '<number>-<entryHash>'"),
        (lambda v: "2-", "versionId must be '<number>-<entryHash>'"),
        (lambda v: "3" + v[1:], "versionId number is 3, expected 2"),
        (lambda v: "-" + v, "versionId must be '<number>-<entryHash>'"),
        (lambda v: v[:10] + ("2" if v[10] != "2" else "3") + v[11:], "entry hash does not match versionId"),
    ],
)
def test_a_version_id_is_refused_for_each_fault_with_the_patterns_reason(change, message):
    with pytest.raises(LogError, match=re.escape(message)) as exc:
        webvh.verify_log(two_entry_lines(change))
    assert exc.value.version == 2


def test_an_unchanged_did_and_parameters_verify_as_a_changed_one_would():
    lines = two_entry_lines()
    state = webvh.verify_log(lines)
    assert state.did == state.versions[0].did and state.params == webvh.verify_log(lines[:1]).params
    # The second entry names another DID on the same SCID: refused (the DID is not portable), not taken over.
    other = json.loads(lines[1])
    other["state"]["id"] = other["state"]["id"].replace(":x", ":y")
    with pytest.raises(LogError, match="not portable"):
        webvh.verify_log([lines[0], json.dumps(other)])


def test_each_appended_state_has_parameters_of_its_own():
    s1 = webvh.create(signer=key(1), domain="example.com", version_time="2026-01-01T00:00:00Z")
    s2 = webvh.update(s1, signer=key(1), version_time="2026-01-02T00:00:00Z")
    s3 = webvh.append_entry(s2, webvh.sign_entry(webvh.build_entry(s2, version_time="2026-01-03T00:00:00Z"), key(1)))
    assert s1.params == s2.params == s3.params
    assert s1.params is not s2.params and s2.params is not s3.params
