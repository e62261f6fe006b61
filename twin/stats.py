"""Small statistics for verdicts: Wilson score interval, mean with t confidence interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from twin.kpi import KPIS

# Two-sided 95% Student t quantiles for small samples (df -> t); large df uses 1.96.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
        16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042,
        40: 2.021, 60: 2.000, 120: 1.980}  # fmt: skip


def t95(df: int) -> float:
    """Two-sided 95% Student t quantile (conservative: the next smaller tabulated df)."""
    if df < 1:
        return float("nan")
    if df in _T95:
        return _T95[df]
    smaller = [k for k in _T95 if k < df]
    return _T95[max(smaller)] if df <= 120 else 1.96


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% confidence interval and the values it came from."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_ci(values: Sequence[float]) -> Estimate:
    """Mean and 95% t interval (a single value gives a zero-width interval at that value)."""
    n = len(values)
    if n == 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, 0)
    m = sum(values) / n
    if n == 1:
        return Estimate(m, m, m, 1)
    var = sum((x - m) ** 2 for x in values) / (n - 1)
    h = t95(n - 1) * math.sqrt(var / n)
    return Estimate(m, m - h, m + h, n)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (honest at 0/n and n/n)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def is_share(kpi: str) -> bool:
    """Whether a KPI is a share of a whole (the registry's `Kpi.share`; 'availability.S1' is
    the share 'availability' of station S1), so its interval must stay within [0, 1]."""
    k = KPIS.get(kpi.split(".", 1)[0])
    return k is not None and k.share


def share_ci(values: Sequence[float]) -> Estimate:
    """Mean of per-replication shares and a 95% interval that stays in [0, 1].

    The Wilson score interval, with the number of trials taken as the effective sample size
    the replications show: n_eff = p(1 - p) / (s^2 / n), so the width follows the observed
    spread (as a t interval does) while the bounds can never leave [0, 1]. All replications
    equal gives a zero-width interval, as `mean_ci` does; values outside [0, 1] (not a share
    after all) fall back to `mean_ci`.
    """
    n = len(values)
    if n < 2 or any(not 0.0 <= v <= 1.0 for v in values):
        return mean_ci(values)
    p = sum(values) / n
    var = sum((x - p) ** 2 for x in values) / (n - 1)
    if var == 0.0:
        return Estimate(p, p, p, n)
    spread = p * (1 - p)
    n_eff = spread / (var / n) if spread > 0 else float(n)
    z = t95(n - 1)
    denom = 1 + z * z / n_eff
    centre = (p + z * z / (2 * n_eff)) / denom
    half = z * math.sqrt(spread / n_eff + z * z / (4 * n_eff * n_eff)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def estimate_kpi(kpi: str, values: Sequence[float]) -> Estimate:
    """Mean and 95% interval of a KPI over replications: bounded in [0, 1] for a share."""
    return share_ci(values) if is_share(kpi) else mean_ci(values)
