"""Property tests: JCS fast path, history chains and did:webvh logs."""

from __future__ import annotations

import json

import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssi import history, jcs, webvh
from ssi.errors import HistoryError, LogError
from ssi.keys import SigningKey

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCID = "QmPropertyScid123456789abcdef"
KEYS = [SigningKey.from_seed(i.to_bytes(32, "big")) for i in range(1, 8)]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@FAST
@given(json_values, st.booleans())
def test_fast_canonicalization_equals_rfc8785_whenever_loads_allows_it(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    parsed, simple = jcs.loads(text)
    if simple:  # compare with the reference on the value as json parses it (floats kept)
        assert jcs.canonicalize(parsed, simple=True) == rfc8785.dumps(json.loads(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_canonicalize_of_python_values_equals_rfc8785(value):
    """canonicalize() picks the fast path for plain values by itself; it must never differ from the reference."""
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeError):
        return
    assert jcs.canonicalize(value) == expected


# -- history ---------------------------------------------------------------------

contents = st.one_of(
    st.integers(-1000, 1000),
    st.text(max_size=8),
    st.dictionaries(
        st.sampled_from(["t", "h", "note"]), st.floats(-50, 50, allow_nan=False) | st.text(max_size=5), max_size=3
    ),
)


def _history(items: list, redacted: set[int]) -> list[dict]:
    out: list[dict] = []
    for i, content in enumerate(items):
        out.append(
            history.append(
                out[-1] if out else None,
                content=content,
                kind="reading",
                key=KEYS[0],
                scid=SCID,
                time=f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
            )
        )
    return [history.redact(e) if i in redacted else e for i, e in enumerate(out)]


SCHEDULE = history.KeySchedule.fixed([KEYS[0].multibase])


@FAST
@given(st.lists(contents, min_size=1, max_size=10), st.data())
def test_any_subset_redacted_still_verifies(items, data):
    redacted = data.draw(st.sets(st.integers(0, len(items) - 1)))
    entries = _history(items, redacted)
    report = history.verify_chain(json.loads(json.dumps(entries)), SCHEDULE, scid=SCID)
    assert (report.count, report.redacted) == (len(items), len(redacted))


@FAST
@given(st.lists(contents, min_size=1, max_size=8), st.data())
def test_any_single_character_change_fails_at_that_entry(items, data):
    redacted = data.draw(st.sets(st.integers(0, len(items) - 1)))
    built = _history(items, redacted)  # once: salts are random, so a rebuild would differ
    texts = [json.dumps(e) for e in built]
    k = data.draw(st.integers(0, len(texts) - 1))
    i = data.draw(st.integers(0, len(texts[k]) - 1))
    c = data.draw(st.characters(codec="ascii").filter(lambda ch, old=texts[k][i]: ch != old))
    texts[k] = texts[k][:i] + c + texts[k][i + 1 :]
    try:
        history.verify_chain(texts, SCHEDULE, scid=SCID)
    except HistoryError as exc:
        assert exc.seq == k + 1
    else:
        # Only a change that leaves the JSON value identical may pass
        # (e.g. whitespace, or an escape spelling the same character).
        original = built[k]
        assert json.loads(texts[k]) == json.loads(json.dumps(original))


@FAST
@given(st.lists(contents, min_size=3, max_size=8), st.data())
def test_dropping_or_swapping_entries_fails(items, data):
    entries = _history(items, set())
    k = data.draw(st.integers(1, len(entries) - 2))
    swapped = entries.copy()
    swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k]
    for broken in (entries[:k] + entries[k + 1 :], swapped):
        try:
            history.verify_chain(broken, SCHEDULE, scid=SCID)
        except HistoryError as exc:
            assert exc.seq == k + 1
        else:
            raise AssertionError("a reordered chain verified")


# -- did:webvh -------------------------------------------------------------------

ops = st.lists(st.sampled_from(["doc", "rotate", "prerotate", "ttl"]), min_size=1, max_size=6)


def _log(operations: list[str]) -> webvh.LogState:
    def doc(did: str, i: int) -> dict:
        return webvh.document_for(did, signing_keys=[KEYS[i % len(KEYS)].verify_key])

    holder = 0
    s = webvh.create(
        signer=KEYS[0],
        domain="example.com",
        path=("t", "p"),
        document=doc(webvh.make_did(webvh.SCID_PLACEHOLDER, "example.com", ("t", "p")), 0),
        version_time="2026-01-01T00:00:00Z",
    )
    pending: int | None = None  # index of the pre-committed next key
    for day, op in enumerate(operations, 2):
        when = f"2026-01-{day:02d}T00:00:00Z"
        nxt = (holder + 1) % len(KEYS)
        if pending is not None:
            # Pre-rotation active: only the committed key may act, and must reveal itself.
            holder, pending = pending, None
            s = webvh.rotate(
                s, signer=KEYS[holder], update_keys=[KEYS[holder].multibase], next_key_hashes=[], version_time=when
            )
        elif op == "doc":
            s = webvh.update(s, signer=KEYS[holder], document=doc(s.did, day), version_time=when)
        elif op == "rotate":
            s = webvh.rotate(s, signer=KEYS[holder], update_keys=[KEYS[nxt].multibase], version_time=when)
            holder = nxt
        elif op == "prerotate":
            s = webvh.rotate(
                s,
                signer=KEYS[holder],
                update_keys=[KEYS[holder].multibase],
                next_key_hashes=[webvh.next_key_hash(KEYS[nxt].multibase)],
                version_time=when,
            )
            pending = nxt
        else:
            s = webvh.update(s, signer=KEYS[holder], params={"ttl": day}, version_time=when)
    return s


@FAST
@given(ops)
def test_random_update_and_rotation_sequences_verify(operations):
    s = _log(operations)
    assert webvh.verify_jsonl(s.jsonl()).version_id == s.version_id
    assert s.version_number == len(operations) + 1


@FAST
@given(ops, st.data())
def test_random_single_entry_mutation_fails_at_that_entry(operations, data):
    lines = _log(operations).jsonl().splitlines()
    k = data.draw(st.integers(0, len(lines) - 1))
    i = data.draw(st.integers(0, len(lines[k]) - 1))
    c = data.draw(st.characters(codec="ascii").filter(lambda ch, old=lines[k][i]: ch != old))
    original = lines[k]
    lines[k] = original[:i] + c + original[i + 1 :]
    try:
        webvh.verify_log(lines)
    except LogError as exc:
        assert exc.version == k + 1
    else:
        assert json.loads(lines[k]) == json.loads(original)


# -- hostile shapes: any JSON in any field fails cleanly at that entry -------------

hostile = json_values | st.text(alphabet=st.characters(codec="utf-8"), max_size=5) | st.just("\ud800")


@FAST
@given(st.data(), hostile)
def test_any_value_in_any_history_field_fails_cleanly_at_that_entry(data, value):
    entries = _history([1, {"t": 2.5}, "three"], set())
    k = data.draw(st.integers(0, 2))
    field = data.draw(st.sampled_from(sorted(entries[k])))
    if entries[k][field] == value:
        return
    entries[k] = {**entries[k], field: value}
    try:
        history.verify_chain(entries, SCHEDULE, scid=SCID)
    except HistoryError as exc:
        assert exc.seq == k + 1
    else:
        raise AssertionError(f"{field}={value!r} accepted")


@FAST
@given(st.data(), hostile)
def test_any_value_in_any_log_field_fails_cleanly_at_that_entry(data, value):
    entries = [json.loads(line) for line in _log(["doc", "prerotate", "ttl"]).jsonl().splitlines()]
    k = data.draw(st.integers(0, len(entries) - 1))
    path = data.draw(
        st.sampled_from(
            [
                ("versionId",),
                ("versionTime",),
                ("parameters",),
                ("state",),
                ("proof",),
                ("state", "id"),
                ("proof", 0),
                ("proof", 0, "proofValue"),
                ("proof", 0, "verificationMethod"),
                ("parameters", "updateKeys"),
                ("parameters", "nextKeyHashes"),
                ("parameters", "method"),
            ]
        )
    )
    target = entries[k]
    for step in path[:-1]:
        target = target[step]
    if isinstance(target, dict) and target.get(path[-1]) == value:
        return
    target[path[-1]] = value
    try:
        webvh.verify_log(entries)
    except LogError as exc:
        assert exc.version == k + 1
    else:
        raise AssertionError(f"{path}={value!r} accepted")
