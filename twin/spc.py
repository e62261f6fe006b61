"""Statistical process control: control limits and the Western Electric and Nelson run rules.

Pure functions on plain sequences, so the dashboard only draws what the core computed.

Charts:
- individuals / moving range (I-MR): sigma = MRbar / d2(2), d2(2) = 1.128;
  I chart centre = mean, limits = mean +- 3 sigma; MR chart centre = MRbar,
  UCL = D4(2) MRbar = 3.267 MRbar, LCL = 0.
- X-bar / R for subgroups of equal size n (2..10): sigma of a subgroup mean =
  Rbar / (d2(n) sqrt(n)); X-bar limits = Xbarbar +- A2(n) Rbar; R limits = D3(n) Rbar, D4(n) Rbar.

Run rules (zones from the centre line: C within 1 sigma, B 1-2 sigma, A 2-3 sigma),
named by source because their run lengths differ:
- we1 / nelson1: one point beyond 3 sigma.
- we2 / nelson5: two of three consecutive points beyond 2 sigma on the same side.
- we3 / nelson6: four of five consecutive points beyond 1 sigma on the same side.
- we4: eight in a row on one side; nelson2: nine in a row on one side.
- nelson3: six points in a row steadily rising or falling.
- nelson4: fourteen points in a row alternating up and down.
- nelson7: fifteen points in a row within 1 sigma (either side).
- nelson8: eight points in a row with none within 1 sigma (either side).

Conventions (stated because the literature varies): a violation is reported at the point that
completes the pattern; for the "k of m" rules that point must itself be one of the k; a point
exactly on the centre line breaks a one-side run; equal neighbours break a trend or an
alternation; "beyond" is strict (a point exactly on a limit is not beyond it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

D2: dict[int, float] = {
    2: 1.128,
    3: 1.693,
    4: 2.059,
    5: 2.326,
    6: 2.534,
    7: 2.704,
    8: 2.847,
    9: 2.970,
    10: 3.078,
}
"""d2(n): expected range of n standard normal values (bias correction for R-bar)."""
D3: dict[int, float] = {2: 0.0, 3: 0.0, 4: 0.0, 5: 0.0, 6: 0.0, 7: 0.076, 8: 0.136, 9: 0.184, 10: 0.223}
D4: dict[int, float] = {
    2: 3.267,
    3: 2.574,
    4: 2.282,
    5: 2.114,
    6: 2.004,
    7: 1.924,
    8: 1.864,
    9: 1.816,
    10: 1.777,
}
A2: dict[int, float] = {
    2: 1.880,
    3: 1.023,
    4: 0.729,
    5: 0.577,
    6: 0.483,
    7: 0.419,
    8: 0.373,
    9: 0.337,
    10: 0.308,
}

WESTERN_ELECTRIC: tuple[str, ...] = ("we1", "we2", "we3", "we4")
NELSON: tuple[str, ...] = tuple(f"nelson{i}" for i in range(1, 9))
ALL_RULES: tuple[str, ...] = WESTERN_ELECTRIC + NELSON

RULE_DESCRIPTIONS: dict[str, str] = {
    "we1": "1 point beyond 3σ",
    "we2": "2 of 3 beyond 2σ, same side",
    "we3": "4 of 5 beyond 1σ, same side",
    "we4": "8 in a row on one side",
    "nelson1": "1 point beyond 3σ",
    "nelson2": "9 in a row on one side",
    "nelson3": "6 in a row rising or falling",
    "nelson4": "14 in a row alternating",
    "nelson5": "2 of 3 beyond 2σ, same side",
    "nelson6": "4 of 5 beyond 1σ, same side",
    "nelson7": "15 in a row within 1σ",
    "nelson8": "8 in a row outside 1σ",
}


@dataclass(frozen=True)
class ControlLimits:
    """A chart's centre line, its sigma (of the plotted statistic) and its 3-sigma limits."""

    centre: float
    sigma: float
    lcl: float
    ucl: float


@dataclass(frozen=True)
class IndividualsChart:
    """Limits of an individuals / moving-range chart and the moving ranges (first is None)."""

    individuals: ControlLimits
    moving_range: ControlLimits
    moving_ranges: tuple[float | None, ...]


@dataclass(frozen=True)
class XbarRChart:
    """Limits of an X-bar / R chart with the subgroup means and ranges."""

    xbar: ControlLimits
    range: ControlLimits
    means: tuple[float, ...]
    ranges: tuple[float, ...]
    subgroup_size: int


@dataclass(frozen=True)
class RuleViolation:
    """Rule `rule` fired at point `index`; the pattern spans points `first`..`index`."""

    rule: str
    index: int
    first: int


def _finite(values: Iterable[float]) -> list[float]:
    out = [float(v) for v in values]
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise ValueError(f"value {i} is not finite: {v!r}")
    return out


def individuals_limits(values: Sequence[float]) -> IndividualsChart:
    """I-MR limits from individual values (at least 2).

    Raises:
        ValueError: fewer than 2 values, or a value that is not finite.
    """
    xs = _finite(values)
    if len(xs) < 2:
        raise ValueError("an individuals chart needs at least 2 values")
    mrs = [abs(b - a) for a, b in itertools.pairwise(xs)]
    mr_bar = sum(mrs) / len(mrs)
    mean = sum(xs) / len(xs)
    sigma = mr_bar / D2[2]
    ind = ControlLimits(centre=mean, sigma=sigma, lcl=mean - 3 * sigma, ucl=mean + 3 * sigma)
    # sigma of a moving range of 2: d3(2) * sigma, d3(2) = 0.853; limits use D3/D4 as tabulated.
    mr = ControlLimits(centre=mr_bar, sigma=0.853 * sigma, lcl=D3[2] * mr_bar, ucl=D4[2] * mr_bar)
    return IndividualsChart(individuals=ind, moving_range=mr, moving_ranges=(None, *mrs))


def xbar_r_limits(subgroups: Sequence[Sequence[float]]) -> XbarRChart:
    """X-bar / R limits from subgroups of one size n in 2..10 (at least 2 subgroups).

    Raises:
        ValueError: fewer than 2 subgroups, unequal sizes, a size outside 2..10, or a non-finite value.
    """
    groups = [_finite(g) for g in subgroups]
    if len(groups) < 2:
        raise ValueError("an X-bar/R chart needs at least 2 subgroups")
    n = len(groups[0])
    if any(len(g) != n for g in groups):
        raise ValueError("all subgroups must have the same size")
    if n not in A2:
        raise ValueError(f"subgroup size must be 2..10, got {n}")
    means = tuple(sum(g) / n for g in groups)
    ranges = tuple(max(g) - min(g) for g in groups)
    grand = sum(means) / len(means)
    r_bar = sum(ranges) / len(ranges)
    sigma_mean = r_bar / (D2[n] * math.sqrt(n))
    xbar = ControlLimits(centre=grand, sigma=sigma_mean, lcl=grand - A2[n] * r_bar, ucl=grand + A2[n] * r_bar)
    rng = ControlLimits(centre=r_bar, sigma=(D4[n] - 1) * r_bar / 3, lcl=D3[n] * r_bar, ucl=D4[n] * r_bar)
    return XbarRChart(xbar=xbar, range=rng, means=means, ranges=ranges, subgroup_size=n)


def subgroups_of(values: Sequence[float], size: int) -> list[list[float]]:
    """Consecutive subgroups of `size` values; an incomplete tail is left out."""
    if size < 1:
        raise ValueError("subgroup size must be at least 1")
    return [list(values[i : i + size]) for i in range(0, len(values) - size + 1, size)]


# ---- run rules -------------------------------------------------------------------------------


def _beyond_3(z: list[float]) -> list[RuleViolation]:
    return [RuleViolation("", i, i) for i, v in enumerate(z) if abs(v) > 3]


def _k_of_m(z: list[float], k: int, m: int, limit: float) -> list[RuleViolation]:
    out: list[RuleViolation] = []
    for i in range(len(z)):
        first = max(0, i - m + 1)
        window = z[first : i + 1]
        for side in (1, -1):
            if side * z[i] > limit and sum(1 for v in window if side * v > limit) >= k:
                out.append(RuleViolation("", i, first))
                break
    return out


def _runs(flags: list[bool], length: int) -> list[RuleViolation]:
    """Every point at which the current run of True reaches at least `length`."""
    out: list[RuleViolation] = []
    run = 0
    for i, f in enumerate(flags):
        run = run + 1 if f else 0
        if run >= length:
            out.append(RuleViolation("", i, i - length + 1))
    return out


def _same_side(z: list[float], length: int) -> list[RuleViolation]:
    hits: dict[int, RuleViolation] = {}
    for side in (1, -1):
        for v in _runs([side * x > 0 for x in z], length):
            hits[v.index] = v
    return [hits[i] for i in sorted(hits)]


def _trend(z: list[float], points: int) -> list[RuleViolation]:
    hits: dict[int, RuleViolation] = {}
    diffs = [b - a for a, b in itertools.pairwise(z)]
    for side in (1, -1):
        for v in _runs([side * d > 0 for d in diffs], points - 1):
            # diff j is between points j and j+1
            hits[v.index + 1] = RuleViolation("", v.index + 1, v.first)
    return [hits[i] for i in sorted(hits)]


def _alternating(z: list[float], points: int) -> list[RuleViolation]:
    diffs = [b - a for a, b in itertools.pairwise(z)]
    out: list[RuleViolation] = []
    run = 0  # consecutive alternating non-zero differences ending at diff j
    for j, d in enumerate(diffs):
        if d == 0:
            run = 0
        elif run > 0 and d * diffs[j - 1] < 0:
            run += 1
        else:
            run = 1
        if run >= points - 1:
            out.append(RuleViolation("", j + 1, j + 2 - points))
    return out


_RULES: dict[str, Callable[[list[float]], list[RuleViolation]]] = {
    "we1": _beyond_3,
    "we2": lambda z: _k_of_m(z, 2, 3, 2.0),
    "we3": lambda z: _k_of_m(z, 4, 5, 1.0),
    "we4": lambda z: _same_side(z, 8),
    "nelson1": _beyond_3,
    "nelson2": lambda z: _same_side(z, 9),
    "nelson3": lambda z: _trend(z, 6),
    "nelson4": lambda z: _alternating(z, 14),
    "nelson5": lambda z: _k_of_m(z, 2, 3, 2.0),
    "nelson6": lambda z: _k_of_m(z, 4, 5, 1.0),
    "nelson7": lambda z: _runs([abs(x) < 1 for x in z], 15),
    "nelson8": lambda z: _runs([abs(x) > 1 for x in z], 8),
}


def check_rules(
    values: Sequence[float], centre: float, sigma: float, rules: Iterable[str] = ALL_RULES
) -> list[RuleViolation]:
    """Every violation of `rules` in `values`, for a chart with this centre and sigma.

    Sorted by point, then by the order of `rules`.

    Raises:
        ValueError: an unknown rule name, sigma not positive, or a non-finite value.
    """
    wanted = list(rules)
    unknown = [r for r in wanted if r not in _RULES]
    if unknown:
        raise ValueError(f"unknown SPC rule(s) {unknown}; known: {', '.join(ALL_RULES)}")
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
    z = [(v - centre) / sigma for v in _finite(values)]
    found: list[tuple[int, int, RuleViolation]] = []
    for order, rule in enumerate(wanted):
        found.extend((v.index, order, RuleViolation(rule, v.index, v.first)) for v in _RULES[rule](z))
    found.sort(key=lambda t: (t[0], t[1]))
    return [t[2] for t in found]


def flagged_points(violations: Iterable[RuleViolation]) -> dict[int, tuple[str, ...]]:
    """Point index -> the rules that fired there, for labelling a chart."""
    out: dict[int, list[str]] = {}
    for v in violations:
        names = out.setdefault(v.index, [])
        if v.rule not in names:
            names.append(v.rule)
    return {i: tuple(r) for i, r in sorted(out.items())}
