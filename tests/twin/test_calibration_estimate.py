"""Estimators against draws from known distributions (seeded), censored failures included."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from twin.calibration.estimate import fit_mtbf, fit_mttr, fit_time, fit_yield
from twin.distributions import Lognormal, Normal, Triangular


def _rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize(
    ("kind", "draw", "true_mean"),
    [
        ("exponential", lambda g, n: g.exponential(30.0, n), 30.0),
        (
            "lognormal",
            lambda g, n: g.lognormal(
                math.log(70) - 0.5 * math.log1p(0.3**2), math.sqrt(math.log1p(0.3**2)), n
            ),
            70.0,
        ),
        ("normal", lambda g, n: g.normal(60.0, 5.0, n), 60.0),
        ("triangular", lambda g, n: g.triangular(20.0, 25.0, 35.0, n), 80.0 / 3),
    ],
)
def test_fit_time_picks_the_kind_by_aic_and_covers_the_mean(kind, draw, true_mean) -> None:
    x = draw(_rng(), 3000)
    f = fit_time(list(x))
    assert f.kind == kind
    assert f.n == 3000
    assert f.low <= true_mean <= f.high
    assert f.high - f.low < 0.08 * true_mean


def test_fit_time_recovers_the_parameters_of_a_kind() -> None:
    g = _rng(3)
    sigma2 = math.log1p(0.2**2)
    f = fit_time(list(g.lognormal(math.log(120) - sigma2 / 2, math.sqrt(sigma2), 5000)))
    assert isinstance(f.dist, Lognormal)
    assert f.dist.cv == pytest.approx(0.2, rel=0.05)
    t = fit_time(list(g.triangular(30, 35, 50, 5000)))
    assert isinstance(t.dist, Triangular)
    assert (t.dist.low, t.dist.mode, t.dist.high) == pytest.approx((30, 35, 50), abs=1.0)
    n = fit_time(list(g.normal(60, 5, 5000)))
    assert isinstance(n.dist, Normal) and n.dist.sd == pytest.approx(5, rel=0.05)


def test_constant_samples_are_deterministic() -> None:
    f = fit_time([15.0] * 40)
    assert f.kind == "deterministic" and f.mean == 15.0 and (f.low, f.high) == (15.0, 15.0)


def test_fit_time_refuses_bad_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        fit_time([])
    with pytest.raises(ValueError, match="non-negative"):
        fit_time([1.0, -2.0])


def test_mean_interval_covers_about_95_percent() -> None:
    """Over many small samples the 95 % interval of the mean holds the truth about 95 % of times."""
    g = _rng(11)
    hits = 0
    trials = 120
    for _ in range(trials):
        f = fit_time(list(g.exponential(10.0, 40)))
        hits += f.low <= 10.0 <= f.high
    assert 0.88 <= hits / trials <= 1.0


def _failure_history(mtbf: float, mttr: float, horizon: float, rng: random.Random):
    """Alternating up/down spells until `horizon`; the last spell is cut (censored) there."""
    t, ups, repairs, failures, open_repair = 0.0, [], [], 0, None
    while True:
        up = rng.expovariate(1 / mtbf)
        if t + up >= horizon:
            ups.append(horizon - t)
            break
        ups.append(up)
        failures += 1
        t += up
        down = rng.expovariate(1 / mttr)
        if t + down >= horizon:
            open_repair = horizon - t
            break
        repairs.append(down)
        t += down
    return ups, failures, repairs, open_repair


def test_mtbf_with_right_censoring_is_unbiased_and_covers() -> None:
    rng = random.Random(5)
    hits, rates = 0, []
    for _ in range(400):
        ups, failures, _, _ = _failure_history(10.0, 1.0, 120.0, rng)
        f = fit_mtbf(ups, failures)
        hits += f.low <= 10.0 <= f.high
        rates.append(failures / f.exposure)  # the rate r/T is unbiased; its inverse T/r is the MLE
    assert 0.92 <= hits / 400 <= 0.99
    assert np.mean(rates) == pytest.approx(0.1, rel=0.04)


def test_dropping_the_censored_spell_would_bias_mtbf_down() -> None:
    """The censored last spell carries exposure: leaving it out underestimates MTBF."""
    rng = random.Random(9)
    with_c, without = [], []
    for _ in range(400):
        ups, failures, _, _ = _failure_history(40.0, 1.0, 300.0, rng)
        if failures:
            with_c.append(failures / fit_mtbf(ups, failures).exposure)
            without.append(failures / sum(ups[:failures]))
    assert np.mean(with_c) == pytest.approx(1 / 40.0, rel=0.06)
    assert np.mean(without) > 1.15 / 40.0


def test_mttr_counts_an_open_repair_as_censored() -> None:
    f = fit_mttr([10.0, 20.0, 30.0], open_repair=15.0)
    assert f.mean == pytest.approx(75.0 / 3) and f.censored == 1 and f.events == 3
    rng = random.Random(2)
    hits = 0
    for _ in range(300):
        _, _, repairs, open_repair = _failure_history(5.0, 2.0, 200.0, rng)
        f = fit_mttr(repairs, open_repair)
        hits += f.low <= 2.0 <= f.high
    assert 0.92 <= hits / 300 <= 0.99


def test_no_failure_gives_only_a_lower_bound() -> None:
    f = fit_mtbf([500.0], 0)
    assert math.isinf(f.mean) and math.isinf(f.high) and 0 < f.low < 500.0


def test_yield_wilson_interval_covers() -> None:
    g = _rng(4)
    hits = 0
    for _ in range(300):
        good = int(g.binomial(400, 0.93))
        f = fit_yield(good, 400 - good)
        hits += f.low <= 0.93 <= f.high
    assert 0.91 <= hits / 300 <= 0.99
    all_good = fit_yield(50, 0)
    assert all_good.value == 1.0 and all_good.high == 1.0 and all_good.low < 1.0
