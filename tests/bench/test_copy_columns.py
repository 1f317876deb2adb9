"""bench/cards.py and bench/scale.py load things by COPY into twins_twin with a fixed column list: a NOT NULL column
added to Twin without a database default makes every row fail (session 9's `arriving`/`moved_to` and session 10's
`leaving_to` stopped both benches). These hold both lists, and scale's generated lines, to the model."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

from django.db.models import NOT_PROVIDED

from twins.models import Twin

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_module(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # the benches import their helpers as `_server`, run from bench/
    spec = importlib.util.spec_from_file_location(f"bench_{name}_under_test", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _required_columns() -> set[str]:
    return {
        field.column
        for field in Twin._meta.concrete_fields
        if not field.null and not field.primary_key and field.db_default is NOT_PROVIDED
    }


def _columns(text: str) -> list[str]:
    return [name.strip() for name in text.split(",")]


def test_the_cards_bench_copies_every_required_twin_column():
    columns = _columns(_bench_module("cards").TWIN_COLUMNS)
    assert _required_columns() - set(columns) == set()


def test_the_scale_bench_copies_every_required_twin_column_with_one_value_each():
    scale = _bench_module("scale")
    columns = _columns(scale.TWIN_COLUMNS)
    assert _required_columns() - set(columns) == set()
    line = next(scale.twin_lines([1], 0, datetime(2026, 12, 1, tzinfo=UTC)))
    assert len(line.rstrip("\n").split("\t")) == len(columns)
