"""Time distributions: sample means agree with `.mean`, seeds reproduce, parameters are checked."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from pydantic import TypeAdapter, ValidationError

from twin.distributions import Deterministic, Dist, Empirical, Exponential, Lognormal, Normal, Triangular

DIST: TypeAdapter = TypeAdapter(Dist)
N = 20_000


def draws(dist: object, seed: int = 7, n: int = N) -> list[float]:
    rng = random.Random(seed)
    return [dist.sample(rng) for _ in range(n)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("written", "expected_mean"),
    [
        (45, 45.0),
        ("2m", 120.0),
        ({"exponential": "5m"}, 300.0),
        ({"triangular": [40, "45s", 70]}, (40 + 45 + 70) / 3),
        ({"lognormal": {"mean": "20m", "cv": 0.5}}, 1200.0),
        ({"normal": {"mean": 60, "sd": 5}}, 60.0),  # truncation at 0 is 12 sd away: no effect
        ({"empirical": [41, 43, 44, 52]}, 45.0),
        ({"kind": "exponential", "mean": 10}, 10.0),  # the long (dumped) form
    ],
)
def test_sample_mean_within_confidence_interval_of_mean(written: object, expected_mean: float) -> None:
    dist = DIST.validate_python(written)
    assert dist.mean == pytest.approx(expected_mean)
    xs = draws(dist)
    assert min(xs) >= 0
    sd = statistics.stdev(xs)
    # 4.5 standard errors: a fixed seed, and a margin no correct sampler misses.
    assert abs(statistics.fmean(xs) - dist.mean) <= 4.5 * sd / math.sqrt(N) + 1e-9


def test_normal_truncated_at_zero_has_the_truncated_mean() -> None:
    """mean 1, sd 2: a third of the mass is below 0; the truncated mean is mu + sd*phi(a)/(1-Phi(a))."""
    dist = Normal(mean=1.0, sd=2.0)
    z = statistics.NormalDist()
    a = -1.0 / 2.0
    expected = 1.0 + 2.0 * z.pdf(a) / (1 - z.cdf(a))
    assert dist.mean == pytest.approx(expected, rel=1e-9)
    assert dist.mean == pytest.approx(2.0183, abs=1e-4)
    xs = draws(dist)
    assert min(xs) >= 0
    assert abs(statistics.fmean(xs) - expected) <= 4.5 * statistics.stdev(xs) / math.sqrt(N)


def test_lognormal_has_the_requested_cv() -> None:
    xs = draws(Lognormal(mean=100, cv=0.5), n=50_000)
    assert statistics.stdev(xs) / statistics.fmean(xs) == pytest.approx(0.5, rel=0.05)


def test_triangular_and_empirical_stay_in_their_support() -> None:
    xs = draws(Triangular(low=40, mode=45, high=70), n=5000)
    assert min(xs) >= 40 and max(xs) <= 70
    assert set(draws(Empirical(samples=(1.0, 2.0, 5.0)), n=500)) == {1.0, 2.0, 5.0}


@pytest.mark.parametrize(
    "dist",
    [
        Exponential(mean=5),
        Triangular(low=1, mode=2, high=4),
        Lognormal(mean=5, cv=0.3),
        Normal(mean=5, sd=1),
        Empirical(samples=(1, 2, 3, 4)),
    ],
    ids=lambda d: d.kind,
)
def test_same_seed_same_draws_other_seed_other_draws(dist: object) -> None:
    assert draws(dist, seed=42, n=50) == draws(dist, seed=42, n=50)
    assert draws(dist, seed=42, n=50) != draws(dist, seed=43, n=50)


def test_deterministic_ignores_the_rng() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    assert Deterministic(value=3).sample(rng) == 3.0
    assert rng.getstate() == state


@pytest.mark.parametrize(
    "dist",
    [Deterministic(value=10), Exponential(mean=10), Triangular(low=5, mode=10, high=30),
     Lognormal(mean=10, cv=0.4), Normal(mean=2, sd=3), Empirical(samples=(1, 2, 9))],
    ids=lambda d: d.kind,
)  # fmt: skip
def test_scaled_multiplies_the_mean_and_keeps_the_shape(dist: object) -> None:
    faster = dist.scaled(0.5)  # type: ignore[attr-defined]
    assert type(faster) is type(dist)
    assert faster.mean == pytest.approx(0.5 * dist.mean)  # type: ignore[attr-defined]
    assert faster.cv == pytest.approx(dist.cv)  # type: ignore[attr-defined]


def test_dumped_form_validates_back_to_the_same_distribution() -> None:
    for written in (5, {"exponential": 5}, {"normal": {"mean": 1, "sd": 2}}, {"triangular": [1, 2, 3]},
                    {"empirical": [1, 2]}, {"lognormal": {"mean": 5, "cv": 0.5}}):  # fmt: skip
        dist = DIST.validate_python(written)
        assert DIST.validate_python(dist.model_dump(by_alias=True)) == dist
        assert DIST.validate_python(dist.model_dump(mode="json")) == dist


@pytest.mark.parametrize(
    ("written", "phrase"),
    [
        ({"triangular": [5, 3, 1]}, "low <= mode <= high"),
        ({"triangular": [1, 5, 3]}, "low <= mode <= high"),
        ({"triangular": [1, 2]}, "triangular needs [low, mode, high]"),
        ({"triangular": {"low": 1, "mode": 2}}, "Field required"),
        ({"normal": {"mean": 5, "sd": -1}}, "non-negative"),
        ({"normal": {"mean": 0, "sd": 1}}, "greater than 0"),
        ({"normal": {"mean": 5}}, "Field required"),
        ({"normal": [5, 1]}, "normal needs a mapping"),
        ({"lognormal": {"mean": 5, "cv": 0}}, "greater than 0"),
        ({"exponential": 0}, "greater than 0"),
        ({"exponential": "soon"}, "cannot read duration"),
        ({"empirical": []}, "at least 1"),
        ({"gamma": 5}, "unknown distribution 'gamma'"),
        ({"exponential": 5, "normal": {"mean": 1, "sd": 1}}, "one kind"),
        ({}, "one kind"),
        (None, "expected a time"),
        (True, "expected a time"),
        ([1, 2], "expected a time"),
        (-3, "non-negative"),
    ],
)
def test_bad_distributions_are_validation_errors(written: object, phrase: str) -> None:
    with pytest.raises(ValidationError) as info:
        DIST.validate_python(written)
    assert phrase in str(info.value)
