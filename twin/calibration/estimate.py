"""Estimators with intervals: processing-time distributions (maximum likelihood, kind chosen by
AIC), MTBF/MTTR with right-censoring (exponential MLE), yield (Wilson) and setup times.

Every estimate carries a 95 % interval for the quantity the plant file holds (a mean time or
a proportion) and its sample size, so the caller can keep an old value when the evidence is
thin and replace it only when the data contradict it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from twin.distributions import Deterministic, Distribution, Exponential, Lognormal, Normal, Triangular
from twin.stats import mean_ci, wilson_interval

KINDS = ("deterministic", "exponential", "normal", "lognormal", "triangular")
"""The distribution kinds a fit chooses among (the parametric kinds of `twin.distributions`;
`empirical` is not a model to fit but the data itself)."""
_DETERMINISTIC_CV = 1e-6


@dataclass(frozen=True)
class Candidate:
    """One kind fitted by maximum likelihood: its log-likelihood, parameter count and AIC."""

    kind: str
    dist: Distribution
    loglik: float
    k: int

    @property
    def aic(self) -> float:
        """Akaike's information criterion 2k - 2 ln L (lower is better)."""
        return 2 * self.k - 2 * self.loglik


@dataclass(frozen=True)
class TimeFit:
    """A processing-time fit: the chosen distribution, its mean with a 95 % interval, the sample."""

    dist: Distribution
    mean: float
    low: float
    high: float
    n: int
    candidates: tuple[Candidate, ...] = field(default=())

    @property
    def kind(self) -> str:
        return self.dist.kind


def _candidates(x: np.ndarray) -> list[Candidate]:
    out: list[Candidate] = []
    n = len(x)
    mean = float(x.mean())
    # exponential: closed form
    out.append(Candidate("exponential", Exponential(mean=mean), float(-n * math.log(mean) - n), 1))
    sd = float(x.std())  # the MLE (ddof=0)
    if sd > 0:
        ll = float(stats.norm.logpdf(x, mean, sd).sum())
        out.append(Candidate("normal", Normal(mean=mean, sd=sd), ll, 2))
    if (x > 0).all():
        logs = np.log(x)
        mu, sigma = float(logs.mean()), float(logs.std())
        if sigma > 0:
            ll = float(stats.lognorm.logpdf(x, sigma, scale=math.exp(mu)).sum())
            m = math.exp(mu + sigma * sigma / 2)
            cv = math.sqrt(math.expm1(sigma * sigma))
            out.append(Candidate("lognormal", Lognormal(mean=m, cv=cv), ll, 2))
    tri = _triangular(x)
    if tri is not None:
        out.append(tri)
    return out


def _tri_loglik(x: np.ndarray, a: float, c: float, b: float) -> float:
    if not (a < b and a <= c <= b) or x.min() <= a or x.max() >= b:
        return -math.inf
    left, right = x[x < c], x[x >= c]
    ll = 0.0
    if len(left):
        ll += float(np.log(2 * (left - a) / ((b - a) * (c - a))).sum()) if c > a else -math.inf
    if len(right):
        ll += float(np.log(2 * (b - right) / ((b - a) * (b - c))).sum()) if b > c else -math.inf
    return ll


def _triangular(x: np.ndarray) -> Candidate | None:
    """Triangular maximum likelihood (Nelder-Mead over low, mode, high from the sample range)."""
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return None
    span = hi - lo
    n = len(x)
    a0, b0 = lo - span / n, hi + span / n
    c0 = min(max(3 * float(x.mean()) - a0 - b0, lo), hi)

    def neg(p: np.ndarray) -> float:
        ll = _tri_loglik(x, float(p[0]), float(p[1]), float(p[2]))
        return -ll if math.isfinite(ll) else 1e300

    res = optimize.minimize(
        neg,
        np.array([a0, c0, b0]),
        method="Nelder-Mead",
        options={"xatol": 1e-4 * span, "fatol": 1e-6, "maxiter": 600},
    )
    a, c, b = (float(v) for v in res.x)
    ll = -float(res.fun)
    if not math.isfinite(ll) or ll <= -1e299 or a < 0:
        return None
    return Candidate("triangular", Triangular(low=a, mode=c, high=b), ll, 3)


def fit_time(samples: Sequence[float]) -> TimeFit:
    """Fit a processing-time distribution to positive samples.

    The kind is the one of lowest AIC among `KINDS`; a sample without spread (cv < 1e-6) is
    deterministic. The interval is for the mean time, the quantity that drives throughput:
    Student t on the sample mean (the central limit theorem, whatever the kind), or the exact
    chi-square interval when the chosen kind is exponential.

    Raises:
        ValueError: no samples, or a negative or non-finite one.
    """
    x = np.asarray(samples, dtype=float)
    if len(x) == 0:
        raise ValueError("no samples to fit")
    if not np.isfinite(x).all() or (x < 0).any():
        raise ValueError("processing times must be finite and non-negative")
    n = len(x)
    mean = float(x.mean())
    if n < 2 or mean == 0 or float(x.std()) / mean < _DETERMINISTIC_CV:
        return TimeFit(Deterministic(value=mean), mean, mean, mean, n)
    cands = _candidates(x)
    best = min(cands, key=lambda c: c.aic)
    if best.kind == "exponential":
        low, high = exponential_mean_interval(float(x.sum()), n)
    else:
        est = mean_ci(list(x))
        low, high = est.low, est.high
    return TimeFit(best.dist, best.dist.mean, low, high, n, tuple(cands))


def exponential_mean_interval(total: float, events: int, level: float = 0.95) -> tuple[float, float]:
    """Interval for an exponential mean from `total` exposure and `events` observed events
    (time-censored: 2T/chi2(1-a/2; 2r+2) .. 2T/chi2(a/2; 2r)); no event gives (lower, inf)."""
    a = 1 - level
    low = 2 * total / stats.chi2.ppf(1 - a / 2, 2 * events + 2)
    high = 2 * total / stats.chi2.ppf(a / 2, 2 * events) if events > 0 else math.inf
    return float(low), float(high)


@dataclass(frozen=True)
class RateFit:
    """A mean time between events from exposure and event count (right-censored exponential MLE)."""

    mean: float
    low: float
    high: float
    events: int
    exposure: float
    censored: int = 0

    @property
    def n(self) -> int:
        return self.events


def fit_mtbf(up_intervals: Sequence[float], failures: int) -> RateFit:
    """MTBF = total up (failure-exposed) time / failures; the last up spell is censored, not dropped.

    `up_intervals` are the durations the failure clock ran (the simulator's runs while busy);
    the last one usually ends at the end of the window, not at a failure.
    """
    total = float(sum(up_intervals))
    low, high = exponential_mean_interval(total, failures)
    mean = total / failures if failures > 0 else math.inf
    return RateFit(mean, low, high, failures, total, censored=1 if up_intervals else 0)


def fit_mttr(completed: Sequence[float], open_repair: float | None = None) -> RateFit:
    """MTTR from completed repair durations and at most one still open at the end (censored):
    (sum of completed + elapsed open) / completed, the exponential MLE under right-censoring."""
    total = float(sum(completed)) + (open_repair or 0.0)
    r = len(completed)
    low, high = exponential_mean_interval(total, r)
    mean = total / r if r > 0 else math.inf
    return RateFit(mean, low, high, r, total, censored=int(open_repair is not None))


@dataclass(frozen=True)
class ProportionFit:
    """A yield: good / (good + rejected) with its Wilson 95 % interval."""

    value: float
    low: float
    high: float
    n: int
    good: int


def fit_yield(good: int, rejected: int) -> ProportionFit:
    """Yield with the Wilson score interval (honest at 0 and n)."""
    n = good + rejected
    low, high = wilson_interval(good, n)
    if n and good == n:
        high = 1.0  # exact at n/n (the formula's rounding leaves 1 - 1e-16)
    if n and good == 0:
        low = 0.0
    return ProportionFit(good / n if n else math.nan, low, high, n, good)


@dataclass(frozen=True)
class MeanFit:
    """A mean duration with its Student t 95 % interval (setup times)."""

    mean: float
    low: float
    high: float
    n: int


def fit_mean(samples: Sequence[float]) -> MeanFit:
    """Mean and t interval of durations (a setup is one number in the plant model)."""
    est = mean_ci(list(samples))
    return MeanFit(est.mean, est.low, est.high, est.n)
