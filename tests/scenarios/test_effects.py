"""Direction and size of effects that theory fixes, on the flow-line sample, with common random numbers."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from scenarios.compare import paired
from scenarios.files import prepare
from scenarios.runner import run_scenario

DETERMINISTIC = """
name: flow
base: {plant: flowline, generate: 2h, until: 2h}
judge: {replications: 2, seed: 1, planner: {mode: rule, rule: FIFO}}
variants:
  - name: faster-bottleneck
    changes: [{type: cycle_time, station: f2, factor: 0.8}]
  - name: second-machine
    changes: [{type: add_machine, station: f2}]
  - name: down-half-hour
    changes: [{type: station_down, station: f2, start: 30m, duration: 30m}]
"""


def _variant(report, name):
    return next(v for v in report.variants if v.name == name)


def _kpi(variant, kpi):
    return next(c for c in variant.comparison if c.kpi == kpi)


def test_deterministic_flow_line_matches_the_bottleneck_law(tmp_path: Path) -> None:
    """Saturated deterministic line: output = 1 + (T - first part's flow time) / max cycle time."""
    report = run_scenario(prepare(DETERMINISTIC, "<t>", base_dir=tmp_path))
    # Part k leaves at first + (k - 1) x bottleneck cycle; count those strictly before 2 h.
    # The first part arrives at 10 s and flows through 30 + 50 + 40 + 20 s.
    base = report.baseline.kpis["units_good"].mean
    assert base == math.ceil((7200 - (10 + 30 + 50 + 40 + 20)) / 50)  # f2 (50 s) paces the line
    # f2 at 40 s: f3 (40 s) paces it.
    faster = _kpi(_variant(report, "faster-bottleneck"), "units_good")
    assert faster.variant.mean == math.ceil((7200 - (10 + 30 + 40 + 40 + 20)) / 40)
    doubled = _kpi(_variant(report, "second-machine"), "units_good")
    assert doubled.difference.mean > 0
    # Half an hour down at the bottleneck loses exactly 1800 / 50 parts.
    down = _kpi(_variant(report, "down-half-hour"), "units_good")
    assert down.difference.mean == -1800 / 50
    assert down.verdict == "worse" or down.difference.low == down.difference.high < 0


STOCHASTIC = """
name: flow-random
base:
  plant: flowline
  generate: 4h
  until: 4h
  changes:
    - {type: cycle_time, operation: op1, time: {exponential: 30}}
    - {type: cycle_time, operation: op2, time: {exponential: 50}}
    - {type: cycle_time, operation: op3, time: {exponential: 40}}
    - {type: cycle_time, operation: op4, time: {exponential: 20}}
judge: {replications: 6, seed: 3, planner: {mode: rule, rule: FIFO}}
sweep:
  objective: {kpi: throughput_per_hour, goal: max}
  parameters:
    - {name: f2_factor, change: {type: cycle_time, station: f2, factor: 1.0}, field: factor,
       values: [1.0, 0.85, 0.7]}
"""


def test_more_bottleneck_capacity_never_lowers_expected_throughput(tmp_path: Path) -> None:
    """Exponential flow line with finite buffers: speeding up the bottleneck (same seeds at every
    point) raises mean throughput; no paired difference is significantly negative."""
    report = run_scenario(prepare(STOCHASTIC, "<t>", base_dir=tmp_path))
    assert report.sweep is not None
    points = report.sweep.points
    series = [p.samples["throughput_per_hour"] for p in points]
    for slower, faster in itertools.pairwise(series):
        diff = paired(slower, faster)
        assert diff.high >= 0, diff  # never significantly lower
        assert diff.mean > 0, diff  # and higher in expectation
    assert report.sweep.best == len(points) - 1
    assert points[report.sweep.best].values == {"f2_factor": 0.7}


def test_a_station_down_for_a_shift_lowers_output(tmp_path: Path) -> None:
    text = STOCHASTIC.split("sweep:")[0] + (
        "changes: [{type: station_down, station: f3, start: 1h, duration: 8h}]\n"
    ).replace("8h", "2h")
    report = run_scenario(prepare(text, "<t>", base_dir=tmp_path))
    units = _kpi(report.variants[0], "units_good")
    assert units.difference.high < 0  # significantly fewer parts, paired over the same seeds
    assert all(
        v < b
        for b, v in zip(
            report.baseline.samples["units_good"], report.variants[0].side.samples["units_good"], strict=True
        )
    )
