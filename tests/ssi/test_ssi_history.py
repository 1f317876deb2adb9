"""The twin history chain: append, redact, verify, and key rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import rfc8785

from ssi import history, webvh
from ssi.errors import HistoryError, SSIError
from ssi.keys import SigningKey

SCID = "QmTwinScid123456789abcdefgh"


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


def ts(minute: int) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)).isoformat().replace("+00:00", ".000000Z")


def chain(n: int, signer: SigningKey | None = None, start: int = 0) -> list[dict]:
    signer = signer or key(7)
    out: list[dict] = []
    for i in range(n):
        out.append(
            history.append(
                out[-1] if out else None,
                content={"temp": 20 + i / 4, "i": i},
                kind="reading",
                key=signer,
                scid=SCID,
                time=ts(start + i),
            )
        )
    return out


FIXED = history.KeySchedule.fixed([key(7).multibase])


def test_fresh_chain_verifies_and_reports_head():
    entries = chain(5)
    report = history.verify_chain(entries, FIXED, scid=SCID)
    assert (report.count, report.redacted) == (5, 0)
    assert report.head_hash == history.entry_hash(entries[-1])
    assert report.keys == (key(7).multibase,)


def test_signing_input_is_the_jcs_of_the_signed_fields():
    e = chain(1)[0] | {"kind": "note", "time": ts(3)}
    fields = {k: e[k] for k in history.SIGNED_FIELDS}
    assert history.signing_input(e) == rfc8785.dumps(fields)


def test_redacted_entry_keeps_hash_and_chain_still_verifies():
    entries = chain(4)
    entries[1] = history.redact(entries[1])
    assert history.is_redacted(entries[1])
    assert "content" not in entries[1] and "salt" not in entries[1]
    report = history.verify_chain(entries, FIXED, scid=SCID)
    assert report.redacted == 1


def test_content_hash_is_salted():
    a = history.content_hash({"temp": 20}, history.new_salt())
    b = history.content_hash({"temp": 20}, history.new_salt())
    assert a != b


def test_changed_content_fails_at_that_entry():
    entries = chain(4)
    entries[2] = {**entries[2], "content": {"temp": 99, "i": 2}}
    with pytest.raises(HistoryError, match="content does not match") as exc:
        history.verify_chain(entries, FIXED, scid=SCID)
    assert exc.value.seq == 3


def test_content_without_salt_is_rejected():
    entries = chain(2)
    del entries[1]["salt"]
    with pytest.raises(HistoryError) as exc:
        history.verify_chain(entries, FIXED, scid=SCID)
    assert exc.value.seq == 2


def test_flipping_any_character_of_entry_k_fails_at_entry_k():
    entries = chain(3)
    entries[1] = history.redact(entries[1])
    texts = [json.dumps(e) for e in entries]
    for k, text in enumerate(texts, 1):
        for i in range(len(text)):
            c = text[i]
            flipped = text[:i] + ("B" if c == "A" else "A") + text[i + 1 :]
            mutated = [*texts[: k - 1], flipped, *texts[k:]]
            with pytest.raises(HistoryError) as exc:
                history.verify_chain(mutated, FIXED, scid=SCID)
            assert exc.value.seq == k, (k, text[max(0, i - 15) : i + 15])


def test_dropping_an_entry_fails():
    entries = chain(4)
    with pytest.raises(HistoryError, match="expected 2") as exc:
        history.verify_chain([entries[0], *entries[2:]], FIXED, scid=SCID)
    assert exc.value.seq == 2


def test_reordering_entries_fails():
    entries = chain(4)
    with pytest.raises(HistoryError) as exc:
        history.verify_chain([entries[0], entries[2], entries[1], entries[3]], FIXED, scid=SCID)
    assert exc.value.seq == 2


def test_renumbered_entries_still_fail_on_prev_hash():
    entries = chain(4)
    spliced = [entries[0], entries[2]]
    forged = {**entries[2], "seq": 2}
    with pytest.raises(HistoryError) as exc:
        history.verify_chain([spliced[0], forged], FIXED, scid=SCID)
    assert exc.value.seq == 2


def test_time_going_backwards_is_rejected():
    first = history.append(None, content=1, kind="note", key=key(7), scid=SCID, time=ts(10))
    with pytest.raises(SSIError, match="backwards"):
        history.append(first, content=2, kind="note", key=key(7), scid=SCID, time=ts(9))
    # Forge it by hand: correctly signed and chained, but dated earlier.
    second = history.append(first, content=2, kind="note", key=key(7), scid=SCID, time=ts(10))
    second = {**second, "time": ts(9)}
    second["sig"] = "u" + history.b64url_encode(key(7).sign(history.signing_input(second)))
    with pytest.raises(HistoryError, match="backwards") as exc:
        history.verify_chain([first, second], FIXED, scid=SCID)
    assert exc.value.seq == 2


def test_entry_dated_in_the_future_is_rejected():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    entries = chain(2, start=4)  # second entry at now + 5 min is fine
    history.verify_chain(entries, FIXED, scid=SCID, now=now)
    late = chain(2, start=5)
    with pytest.raises(HistoryError, match="future") as exc:
        history.verify_chain(late, FIXED, scid=SCID, now=now)
    assert exc.value.seq == 2


def test_chain_of_another_twin_is_rejected():
    with pytest.raises(HistoryError, match="prev_hash") as exc:
        history.verify_chain(chain(2), FIXED, scid="QmOtherTwin123456789abcdefg")
    assert exc.value.seq == 1


def test_entry_signed_by_unknown_key_is_rejected():
    entries = chain(2)
    entries.append(history.append(entries[-1], content=0, kind="note", key=key(8), scid=SCID, time=ts(5)))
    with pytest.raises(HistoryError, match="not a twin key") as exc:
        history.verify_chain(entries, FIXED, scid=SCID)
    assert exc.value.seq == 3


def test_bad_signature_is_rejected():
    entries = chain(2)
    entries[1]["sig"] = "u" + history.b64url_encode(key(7).sign(b"something else"))
    with pytest.raises(HistoryError, match="signature") as exc:
        history.verify_chain(entries, FIXED, scid=SCID)
    assert exc.value.seq == 2


# -- key rotation through the DID log --------------------------------------------


def _twin_log() -> webvh.LogState:
    """Twin DID whose agent key changes from key(7) to key(8) at transfer (day 2)."""

    def doc(agent: SigningKey, did: str) -> dict:
        return webvh.document_for(did, signing_keys=[agent.verify_key])

    s = webvh.create(
        signer=key(1),
        domain="example.com",
        path=("t", "x"),
        document=doc(key(7), webvh.make_did(webvh.SCID_PLACEHOLDER, "example.com", ("t", "x"))),
        version_time="2026-01-01T00:00:00Z",
    )
    return webvh.rotate(
        s,
        signer=key(1),
        update_keys=[key(2).multibase],
        document=doc(key(8), s.did),
        version_time="2026-01-02T00:00:00Z",
    )


def test_history_follows_twin_key_rotation_in_did_log():
    log = _twin_log()
    schedule = history.KeySchedule.from_log(log)
    seller = history.append(None, content="made", kind="note", key=key(7), scid=log.scid, time="2026-01-01T12:00:00Z")
    buyer = history.append(
        seller, content="bought", kind="transfer", key=key(8), scid=log.scid, time="2026-01-02T12:00:00Z"
    )
    report = history.verify_chain([seller, buyer], schedule, scid=log.scid)
    assert report.keys == (key(7).multibase, key(8).multibase)


def test_old_twin_key_cannot_sign_after_transfer():
    log = _twin_log()
    schedule = history.KeySchedule.from_log(log)
    first = history.append(None, content="made", kind="note", key=key(7), scid=log.scid, time="2026-01-01T12:00:00Z")
    stale = history.append(first, content="mine", kind="note", key=key(7), scid=log.scid, time="2026-01-02T12:00:00Z")
    with pytest.raises(HistoryError, match="not a twin key") as exc:
        history.verify_chain([first, stale], schedule, scid=log.scid)
    assert exc.value.seq == 2


def test_entry_before_the_did_existed_is_rejected():
    log = _twin_log()
    early = history.append(None, content="x", kind="note", key=key(7), scid=log.scid, time="2025-12-31T00:00:00Z")
    with pytest.raises(HistoryError, match="not a twin key"):
        history.verify_chain([early], history.KeySchedule.from_log(log), scid=log.scid)
