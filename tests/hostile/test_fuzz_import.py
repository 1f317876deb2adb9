"""Fuzzers for the bulk imports a member can send: a production batch, as the page's "one serial number per line"
text (a one-column CSV, or a prefix and a range) and as the API's JSON list.

Thingstead has no CSV importer of things yet (issue 16); this batch is the import there is, up to 10,000 rows in
one request. Each input, any bytes included, either makes exactly one twin (with its tag, DID log entry and history)
per serial, or is refused with a 4xx whose message a person can act on and leaves nothing written: never a server
error, never half a batch.

`make fuzz` runs these with 100,000 inputs (FUZZ_EXAMPLES, like tests/hostile/test_fuzz.py); the suite a short pass.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote_from_bytes

import pytest
from django.core.cache import cache
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from makers.models import ProducedThing, ProductionBatch, ProductModel
from tags.models import Tag
from tests.conftest import client_for, make_owner
from tests.hostile.test_fuzz import fuzz, mutated
from tests.makers.conftest import organisation_make
from twins.models import DidLogEntry, HistoryEntry, Twin

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags")]

# A request each (and a batch made on many): a shorter pass than the parsers' in the suite, FUZZ_EXAMPLES in make fuzz.
fuzz_requests = settings(fuzz, max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")))

PAGE = "/orgs/fuzz/models/09506000134352/production/"
API = "/api/orgs/fuzz/models/09506000134352/production/"


@pytest.fixture
def maker():
    """A member of an organisation with one product model; the client signed in as them."""
    member = make_owner("fuzzer")
    organisation = organisation_make(slug="fuzz", name="Fuzz Works", admin=member)
    ProductModel.objects.create(
        organisation=organisation, name="Fuzzer", gtin="09506000134352", icon="thing", reading_kinds=[]
    )
    return client_for(member)


def _counts() -> dict[str, int]:
    return {
        "produced": ProducedThing.objects.count(),
        "twins": Twin.objects.count(),
        "tags": Tag.objects.count(),
        "log": DidLogEntry.objects.count(),
        "history": HistoryEntry.objects.count(),
        "batches": ProductionBatch.objects.count(),
    }


def _assert_whole_or_nothing(before: dict[str, int], made: int) -> None:
    """`made` things were produced, each with all its rows, or (made == 0) nothing at all was written."""
    after = _counts()
    per_thing = {"produced": 1, "twins": 1, "tags": 1, "log": 1, "history": 2, "batches": 0}
    expected = {
        name: before[name] + made * per_thing[name] + (1 if made and name == "batches" else 0) for name in before
    }
    assert after == expected


# --- the page: "one serial number per line", or a prefix and a range -------------------------------------------

SERIAL_LINES = b"SN-0001\r\nSN-0002\n\nSN/0003;x\n"
# Mostly valid GS1 AI 21 serials, so that inputs also reach the writing, not only the refusals.
GOOD_SERIAL = st.text(alphabet="ABCXYZabc0123456789-./_", min_size=1, max_size=20)
GOOD_LINES = st.lists(st.one_of(GOOD_SERIAL, st.text(max_size=4)), min_size=1, max_size=6).flatmap(
    lambda items: st.sampled_from(["\n", "\r\n", "\r", "\n\n"]).map(lambda sep: sep.join(items).encode())
)


def _form_body(draw_fields: dict[str, bytes]) -> bytes:
    return b"&".join(name.encode() + b"=" + quote_from_bytes(value).encode() for name, value in draw_fields.items())


@fuzz_requests
@given(
    serials=st.one_of(
        st.binary(max_size=200), mutated(SERIAL_LINES), st.text(max_size=120).map(str.encode), GOOD_LINES, st.just(b"")
    ),
    prefix=st.one_of(st.just(b""), st.binary(max_size=24), st.text(max_size=24).map(str.encode)),
    start=st.one_of(st.just(b""), st.integers(-3, 20).map(lambda n: str(n).encode()), st.binary(max_size=6)),
    end=st.one_of(st.just(b""), st.integers(-3, 30).map(lambda n: str(n).encode()), st.binary(max_size=6)),
    width=st.one_of(st.just(b""), st.integers(-1, 22).map(lambda n: str(n).encode())),
)
@example(serials=b"A\x00B", prefix=b"", start=b"", end=b"", width=b"")
@example(serials=b"\xff\xfe", prefix=b"", start=b"", end=b"", width=b"")
@example(serials=b"", prefix=b"P\x00", start=b"1", end=b"2", width=b"")
def test_the_production_page_makes_a_whole_batch_or_refuses_any_text_clearly(maker, serials, prefix, start, end, width):
    cache.clear()  # rate-limit counters: each input gets a fresh budget
    before = _counts()
    body = _form_body({"serials": serials, "prefix": prefix, "start": start, "end": end, "width": width})
    response = maker.post(PAGE, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 400), response.status_code
    event(f"page {response.status_code}")
    if response.status_code == 400:
        assert b'class="errorlist' in response.content  # the form says what is wrong
        _assert_whole_or_nothing(before, 0)
    else:
        _assert_whole_or_nothing(before, response.context["count"])


# --- the API: {"serials": [...]} ---------------------------------------------------------------------------------

API_BODY = b'{"serials": ["A-1", "A-2", "A 3"]}'
SERIAL = st.one_of(
    st.text(max_size=24),  # lone surrogates and NUL included: json.dumps writes them as \\u escapes
    st.text(alphabet="ABCXYZ0123456789-./", min_size=1, max_size=22),
)


@fuzz_requests
@given(
    st.one_of(
        st.binary(max_size=200),
        mutated(API_BODY),
        st.lists(SERIAL, max_size=6).map(lambda items: json.dumps({"serials": items}).encode()),
        st.lists(GOOD_SERIAL, min_size=1, max_size=6).map(lambda items: json.dumps({"serials": items}).encode()),
        st.lists(st.one_of(SERIAL, st.integers(), st.none()), max_size=4).map(
            lambda items: json.dumps({"serials": items, "extra": 1}).encode()
        ),
    )
)
@example(b'{"serials": ["\\ud800"]}')
@example(b'{"serials": ["A\\u0000B"]}')
@example(b'{"serials": ["SAME", "SAME"]}')
def test_the_production_api_makes_a_whole_batch_or_refuses_any_body_clearly(maker, body):
    cache.clear()
    before = _counts()
    response = maker.post(API, body, content_type="application/json")
    assert response.status_code in (201, 400, 409), response.status_code
    event(f"api {response.status_code}")
    answer = response.json()
    if response.status_code == 201:
        _assert_whole_or_nothing(before, answer["count"])
        assert answer["count"] == len(json.loads(body)["serials"])
    else:
        assert isinstance(answer.get("message"), str) and answer["message"].strip()
        _assert_whole_or_nothing(before, 0)
