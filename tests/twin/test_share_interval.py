"""Intervals of shares stay in [0, 1], keep the mean inside, and cover at the stated rate."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from twin.stats import estimate_kpi, is_share, mean_ci, share_ci


def test_the_issue_example_stays_in_bounds() -> None:
    # two replications at 0 % and 85 % on time: the t interval is [-...%, ...%], far outside
    values = [0.0, 0.85]
    t = mean_ci(values)
    assert t.low < 0 and t.high > 1
    e = share_ci(values)
    assert e.mean == 0.425 and 0.0 <= e.low < e.mean < e.high <= 1.0


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=60))
def test_any_shares_give_an_interval_in_0_1_around_the_mean(values: list[float]) -> None:
    e = share_ci(values)
    assert 0.0 <= e.low <= e.mean + 1e-12
    assert e.mean - 1e-12 <= e.high <= 1.0


def test_with_little_spread_it_agrees_with_the_t_interval() -> None:
    rng = random.Random(4)
    values = [0.5 + rng.uniform(-0.05, 0.05) for _ in range(200)]
    a, b = share_ci(values), mean_ci(values)
    assert abs(a.low - b.low) < 1e-3 and abs(a.high - b.high) < 1e-3


def test_coverage_near_a_bound_is_about_95_percent() -> None:
    # per replication, the on-time share of 20 orders each on time with p = 0.95;
    # 10 replications; the true mean share is 0.95
    rng = random.Random(7)
    trials, covered, t_outside = 2000, 0, 0
    for _ in range(trials):
        values = [sum(rng.random() < 0.95 for _ in range(20)) / 20 for _ in range(10)]
        e = share_ci(values)
        covered += e.low <= 0.95 <= e.high
        t_outside += mean_ci(values).high > 1.0
    assert 0.90 <= covered / trials <= 0.99
    assert t_outside > trials / 20  # the normal-approximation interval often leaves [0, 1] here


def test_only_shares_are_bounded() -> None:
    assert is_share("on_time_rate") and is_share("availability.S1") and not is_share("wip_mean")
    values = [3.0, 9.0]
    assert estimate_kpi("wip_mean", values) == mean_ci(values)
    assert share_ci([0.2, 1.5]) == mean_ci([0.2, 1.5])  # not a share after all
