"""The accuracy scores on synthetic predictions with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from twin.fidelity import brier_score, completion_errors, coverage_cells, score


def _paths(rng: np.random.Generator, n: int, rate: float, hours: int) -> list[np.ndarray]:
    """n sample paths of a Poisson output process: unit completion times over `hours`."""
    return [np.sort(rng.uniform(0, hours * 3600.0, rng.poisson(rate * hours))) for _ in range(n)]


def _sim_frame(paths: list[np.ndarray]) -> pd.DataFrame:
    rows = [
        (r, "s", "P", t - 1.0, t, 0.0, 0.0, 1) for r, times in enumerate(paths) for t in times
    ]  # one-unit operations of one second
    return pd.DataFrame(
        rows, columns=["replication", "station", "product", "start", "end", "setup", "batch", "good"]
    )


def _actual(times: np.ndarray, rate_scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"time": times, "station": "s", "product": "P", "good": 1})


def test_coverage_is_about_80_percent_when_the_actual_is_one_more_replication() -> None:
    # One actual path is one draw: its hours are strongly correlated, so average many short runs.
    rng = np.random.default_rng(3)
    hours = 10
    covered = []
    for _ in range(100):
        paths = _paths(rng, 41, 6.0, hours)
        cells = coverage_cells(_sim_frame(paths[:40]), _actual(paths[40]), 0.0, hours * 3600.0)
        covered += [c.covered for c in cells]
    assert 0.70 <= np.mean(covered) <= 0.90


def test_coverage_drops_when_the_floor_is_slower() -> None:
    rng = np.random.default_rng(4)
    hours = 40
    paths = _paths(rng, 40, 30.0, hours)
    slow = _paths(rng, 1, 24.0, hours)[0]
    cells = coverage_cells(_sim_frame(paths), _actual(slow), 0.0, hours * 3600.0)
    assert np.mean([c.covered for c in cells]) < 0.3
    assert all(c.actual <= c.p90 for c in cells)


def test_cells_where_band_and_actual_agree_exactly_are_not_counted() -> None:
    sim = _sim_frame([np.array([100.0, 200.0])] * 5)  # everything done in the first hour
    cells = coverage_cells(sim, _actual(np.array([100.0, 200.0])), 0.0, 5 * 3600.0)
    assert cells == []


def test_completion_errors_and_brier_known_values() -> None:
    bias, mae, n = completion_errors(
        {"a": 100.0, "b": 200.0, "c": math.inf}, {"a": 160.0, "b": 180.0, "c": 50.0}
    )
    assert (bias, mae, n) == (20.0, 40.0, 2)
    # a done on time (p .9), b done late (p .8), c due passed unfinished (p .5), d still open and not due
    b, nb = brier_score(
        {"a": 0.9, "b": 0.8, "c": 0.5, "d": 0.7},
        {"a": 200.0, "b": 150.0, "c": 300.0, "d": 900.0},
        {"a": 160.0, "b": 180.0},
        end=400.0,
    )
    assert nb == 3 and b == pytest.approx((0.1**2 + 0.8**2 + 0.5**2) / 3)


def test_score_puts_stations_with_several_machines_over_all_products() -> None:
    rng = np.random.default_rng(5)
    paths = _paths(rng, 10, 20.0, 10)
    sim = _sim_frame(paths)
    sim["product"] = np.where(np.arange(len(sim)) % 2 == 0, "P", "Q")
    act = _actual(paths[0]).assign(product="Q")
    orders = pd.DataFrame(
        {"replication": [0], "order_id": ["o"], "due": [1e9], "completion": [5.0], "on_time": [True]}
    )
    s = score(
        sim_ops=sim,
        sim_orders=orders,
        actual_units=act,
        actual_completion={"o": 7.0},
        start=0.0,
        end=36000.0,
        shared=frozenset({"s"}),
    )
    assert set(s.by_station_product) == {("s", "*")}
    assert s.completion_bias == 2.0 and s.brier == 0.0
