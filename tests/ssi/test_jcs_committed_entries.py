"""Entries whose content is committed to as JCS bytes (ssi.history.append_committed): the same entries as
append makes, stored as text with the canonical content spliced in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssi import history, jcs
from ssi.errors import SSIError
from ssi.keys import SigningKey

SCID = "QmTwinScid123456789abcdefgh"
KEY = SigningKey.from_seed((7).to_bytes(32, "big"))
FIXED = history.KeySchedule.fixed([KEY.multibase])


def ts(minute: int) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)).isoformat().replace("+00:00", ".000000Z")


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53 - 1), 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=6),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"]), max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(_json, st.text(st.characters(exclude_categories=["Cs"]), max_size=30))
def test_content_hash_of_the_canonical_bytes_is_the_content_hash(content, salt):
    assert history.content_hash_of(jcs.canonicalize(content), salt) == history.content_hash(content, salt)


def test_a_committed_entry_is_the_entry_append_makes():
    previous = history.append(None, content={"temp": 20}, kind="reading", key=KEY, scid=SCID, time=ts(0))
    content = {"readings": [{"reading": 1, "value": 21.5, "unit": "°C"}, {"reading": 2, "value": 1e-07}]}
    salt = history.new_salt()
    canonical = jcs.canonicalize(content)
    committed = history.append_committed(
        previous,
        content_hash=history.content_hash_of(canonical, salt),
        salt=salt,
        kind="reading",
        key=KEY,
        scid=SCID,
        time=ts(1),
    )
    made = history.append(previous, content=content, kind="reading", key=KEY, scid=SCID, time=ts(1), salt=salt)
    assert committed == {k: v for k, v in made.items() if k != "content"}
    stored = json.loads(history.entry_text(committed, canonical.decode()))
    assert stored == made
    assert history.verify_chain([previous, stored], FIXED, scid=SCID).count == 2
    # As the history is read back from the database: JSON text of any layout.
    assert history.verify_chain(
        [json.dumps(previous), history.entry_text(committed, canonical.decode())], FIXED, scid=SCID
    )


def test_a_committed_entry_checks_kind_and_time_as_append_does():
    previous = history.append(None, content={}, kind="reading", key=KEY, scid=SCID, time=ts(5))
    salt = history.new_salt()
    content_hash = history.content_hash_of(b"{}", salt)
    arguments = {"content_hash": content_hash, "salt": salt, "key": KEY, "scid": SCID}
    with pytest.raises(SSIError, match="backwards"):
        history.append_committed(previous, kind="reading", time=ts(4), **arguments)
    with pytest.raises(SSIError, match="kind"):
        history.append_committed(previous, kind="Reading!", time=ts(6), **arguments)
    with pytest.raises(SSIError, match="salt"):
        history.content_hash_of(b"{}", 5)  # type: ignore[arg-type]
