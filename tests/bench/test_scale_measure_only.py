"""bench/scale.py --measure-only: a kept full database and a nearly empty one measured in alternate rounds. The
verdict is the median of each round's own full/empty ratio (the two measured a minute apart), and the bench only
ever touches databases named scale_*."""

from __future__ import annotations

import pytest

from tests.bench.test_copy_columns import _bench_module


def _rounds(scale, pairs: list[tuple[float, float]]) -> list[dict]:
    """Rounds of one measure, as (empty p50, full p50)."""
    return [
        {"empty": {"chart": scale.Figure(empty, empty)}, "full": {"chart": scale.Figure(full, full)}}
        for empty, full in pairs
    ]


def test_the_verdict_is_the_median_of_the_rounds_ratios(capsys):
    scale = _bench_module("scale")
    # Ratios 1.0, 3.0, 1.5: median 1.5 (the medians of the p50s, 10 and 20, would say 2.0).
    assert scale.report_rounds(_rounds(scale, [(10, 10), (10, 30), (20, 30)])) is True
    assert " 1.50x" in capsys.readouterr().out


def test_a_measure_over_twice_its_empty_figure_in_most_rounds_misses(capsys):
    scale = _bench_module("scale")
    assert scale.report_rounds(_rounds(scale, [(10, 25), (10, 9), (10, 21)])) is False
    assert "(over 2x)" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["postgres", "test", "scale", "scale_x; DROP DATABASE y", "thingstead"])
def test_only_scale_databases(name):
    scale = _bench_module("scale")
    with pytest.raises(SystemExit):
        scale.scale_db(name)


def test_scale_database_names_pass():
    assert _bench_module("scale").scale_db("scale_full") == "scale_full"
