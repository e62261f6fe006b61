"""Fit a whole plant from floor evidence: one `ParameterFit` per parameter of the plant file.

Rule (stated in docs/fidelity.md): a parameter is re-estimated when its evidence reaches the
minimum sample size, and its value is replaced only when the old value lies outside the new
95 % interval: data that agree with the file leave it as it is, so a calibrated file differs
from the old one only where the floor contradicts it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.calibration.estimate import fit_mean, fit_mtbf, fit_mttr, fit_time, fit_yield
from twin.calibration.spells import failure_spells, setup_spells
from twin.distributions import Deterministic, Distribution, Exponential
from twin.plant import Plant

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class MinSamples:
    """The least evidence for a re-estimate (below it the old value is kept and the report says so)."""

    cycles: int = 30
    failures: int = 5
    repairs: int = 5
    units: int = 50
    setups: int = 5


@dataclass(frozen=True)
class Evidence:
    """What the floor recorded in a window, already attributed to products and operations.

    cycles: clean cycle times per (product, operation, station);
    states: per station, its (time, state) changes in time order;
    units: (good, rejected) per (product, operation, station);
    order_starts: per station, (time, product) when an order's operation began there.
    """

    start: float
    end: float
    cycles: Mapping[tuple[str, str, str], Sequence[float]] = field(default_factory=dict)
    states: Mapping[str, Sequence[tuple[float, str]]] = field(default_factory=dict)
    units: Mapping[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    order_starts: Mapping[str, Sequence[tuple[float, str]]] = field(default_factory=dict)
    runs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParameterFit:
    """One parameter: where it is, old and new value, interval, samples, and what was decided.

    `old`/`new`/`low`/`high` are in the parameter's unit (seconds for times, the mean of a
    distribution; a fraction for yields). `new_value` is what goes into the file when
    `changed` (a number or a distribution in its YAML short form).
    """

    path: str
    yaml_path: Path
    old: float
    new: float | None
    low: float | None
    high: float | None
    samples: int
    changed: bool
    note: str
    kind: str | None = None
    new_value: Any = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "old": self.old,
            "new": self.new,
            "interval": [self.low, self.high],
            "samples": self.samples,
            "changed": self.changed,
            "kind": self.kind,
            "note": self.note,
            **({"detail": self.detail} if self.detail else {}),
        }


def _sig(x: float, digits: int = 4) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def duration_text(seconds: float) -> str | float:
    """A duration as the plant files write it: '3.48h', '25.2m', or seconds below a minute."""
    if seconds >= 3600:
        return f"{_sig(seconds / 3600, 4):g}h"
    if seconds >= 60:
        return f"{_sig(seconds / 60, 4):g}m"
    return _sig(seconds)


def dist_yaml(dist: Distribution, durations: bool = False) -> Any:
    """A distribution in the YAML short form of `twin.distributions` (numbers rounded to 4 digits)."""
    t = duration_text if durations else _sig
    if isinstance(dist, Deterministic):
        return t(dist.value)
    if isinstance(dist, Exponential):
        return {"exponential": t(dist.mean)}
    d = dist.model_dump(by_alias=True)
    kind = d.pop("kind")
    if kind == "triangular":
        return {"triangular": [t(d["low"]), t(d["mode"]), t(d["high"])]}
    return {kind: {k: (_sig(v) if k == "cv" else t(v)) for k, v in d.items()}}


_SHARED = "kept: only stations with several machines run it; their one order tag cannot attribute units"


def _decide(old: float, low: float, high: float) -> bool:
    tol = 1e-9 * max(1.0, abs(old))
    return not (low - tol <= old <= high + tol)


def _station_index(plant: Plant) -> dict[str, Path]:
    return {
        s.id: ("lines", i, "stations", j)
        for i, line in enumerate(plant.lines)
        for j, s in enumerate(line.stations)
    }


def fit_plant(plant: Plant, ev: Evidence, minimum: MinSamples | None = None) -> list[ParameterFit]:
    """Every estimable parameter of `plant` from `ev`, in file order."""
    least = minimum or MinSamples()
    return [
        *_times(plant, ev, least),
        *_yields(plant, ev, least),
        *_failures(plant, ev, least),
        *_setups(plant, ev, least),
    ]


def _times(plant: Plant, ev: Evidence, least: MinSamples) -> list[ParameterFit]:
    out = []
    for k, product in enumerate(plant.products):
        for m, op in enumerate(product.routing):
            # A station with several machines has one current-order tag for all of them: its
            # cycles and counts cannot be told apart by order, so they are not used.
            single = [s for s in op.stations if plant.station_map[s].machines == 1]
            by_station = {s: list(ev.cycles.get((product.id, op.id, s), ())) for s in single}
            pooled = [x for xs in by_station.values() for x in xs]
            path = f"products.{product.id}.routing.{op.id}.time"
            ypath: Path = ("products", k, "routing", m, "time")
            old = op.time.mean
            if not single:
                out.append(ParameterFit(path, ypath, old, None, None, None, 0, False, _SHARED))
                continue
            if len(pooled) < least.cycles:
                out.append(
                    ParameterFit(
                        path,
                        ypath,
                        old,
                        None,
                        None,
                        None,
                        len(pooled),
                        False,
                        f"kept: {len(pooled)} cycles, need {least.cycles}",
                    )
                )
                continue
            f = fit_time(pooled)
            detail = {
                "stations": {
                    s: {"n": len(xs), "mean": sum(xs) / len(xs)} for s, xs in by_station.items() if xs
                },
                "aic": {c.kind: round(c.aic, 2) for c in f.candidates},
            }
            changed = _decide(old, f.low, f.high)
            note = (
                f"changed: old mean outside the interval ({f.kind} by AIC)"
                if changed
                else "kept: old mean inside the interval"
            )
            out.append(
                ParameterFit(
                    path,
                    ypath,
                    old,
                    f.mean,
                    f.low,
                    f.high,
                    f.n,
                    changed,
                    note,
                    f.kind,
                    dist_yaml(f.dist),
                    detail,
                )
            )
    return out


def _yields(plant: Plant, ev: Evidence, least: MinSamples) -> list[ParameterFit]:
    out = []
    for k, product in enumerate(plant.products):
        for m, op in enumerate(product.routing):
            single = [s for s in op.stations if plant.station_map[s].machines == 1]
            good = sum(ev.units.get((product.id, op.id, s), (0, 0))[0] for s in single)
            bad = sum(ev.units.get((product.id, op.id, s), (0, 0))[1] for s in single)
            path = f"products.{product.id}.routing.{op.id}.yield"
            ypath: Path = ("products", k, "routing", m, "yield")
            n = good + bad
            if not single:
                out.append(ParameterFit(path, ypath, op.yield_, None, None, None, 0, False, _SHARED))
                continue
            if n < least.units:
                out.append(
                    ParameterFit(
                        path,
                        ypath,
                        op.yield_,
                        None,
                        None,
                        None,
                        n,
                        False,
                        f"kept: {n} units, need {least.units}",
                    )
                )
                continue
            f = fit_yield(good, bad)
            changed = _decide(op.yield_, f.low, f.high)
            new_value = min(1.0, round(f.value, 4))
            note = (
                "changed: old yield outside the Wilson interval"
                if changed
                else "kept: old yield inside the interval"
            )
            out.append(
                ParameterFit(
                    path, ypath, op.yield_, f.value, f.low, f.high, n, changed, note, "proportion", new_value
                )
            )
    return out


def _failures(plant: Plant, ev: Evidence, least: MinSamples) -> list[ParameterFit]:
    out = []
    index = _station_index(plant)
    for station in plant.stations:
        if station.failures is None:
            continue
        base = f"stations.{station.id}.failures"
        ypath = (*index[station.id], "failures")
        old_f, old_r = station.failures.mtbf, station.failures.mttr
        if station.machines > 1:
            note = "kept: a station with several machines shows its busiest machine, hiding single failures"
            out.append(
                ParameterFit(f"{base}.mtbf", (*ypath, "mtbf"), old_f.mean, None, None, None, 0, False, note)
            )
            out.append(
                ParameterFit(f"{base}.mttr", (*ypath, "mttr"), old_r.mean, None, None, None, 0, False, note)
            )
            continue
        sp = failure_spells(ev.states.get(station.id, ()), ev.end)
        f = fit_mtbf([sp.exposed], sp.failures)
        r = fit_mttr(sp.repairs, sp.open_repair)
        for name, old, fit, need, count in (
            ("mtbf", old_f, f, least.failures, sp.failures),
            ("mttr", old_r, r, least.repairs, len(sp.repairs)),
        ):
            detail = {"exposure_s": fit.exposure, "censored": fit.censored}
            if count < need:
                out.append(
                    ParameterFit(
                        f"{base}.{name}",
                        (*ypath, name),
                        old.mean,
                        None,
                        fit.low,
                        None,
                        count,
                        False,
                        f"kept: {count} observed, need {need}",
                        detail=detail,
                    )
                )
                continue
            changed = _decide(old.mean, fit.low, fit.high)
            new_dist = (
                Exponential(mean=fit.mean)
                if isinstance(old, Exponential)
                else old.scaled(fit.mean / old.mean)
            )
            note = (
                "changed: old mean outside the interval (exponential MLE, censored spell included)"
                if changed
                else "kept: old mean inside the interval"
            )
            out.append(
                ParameterFit(
                    f"{base}.{name}",
                    (*ypath, name),
                    old.mean,
                    fit.mean,
                    fit.low,
                    fit.high,
                    count,
                    changed,
                    note,
                    new_dist.kind,
                    dist_yaml(new_dist, durations=True),
                    detail,
                )
            )
    return out


def _family_at(starts: Sequence[tuple[float, str]], t: float, plant: Plant) -> tuple[str | None, str | None]:
    """Families of the order started at or just before `t` and of the one before it."""
    cur = prev = None
    for time, product in starts:
        if time > t + 1e-6:
            break
        fam = plant.product_map[product].setup_family if product in plant.product_map else None
        if fam != cur:
            prev, cur = cur, fam
    return prev, cur


def _setups(plant: Plant, ev: Evidence, least: MinSamples) -> list[ParameterFit]:
    out = []
    index = _station_index(plant)
    for station in plant.stations:
        s = station.setups
        if not (s.default or s.initial or s.matrix):
            continue
        base = f"stations.{station.id}.setups"
        ypath = (*index[station.id], "setups")
        groups: dict[tuple[str, ...], list[float]] = defaultdict(list)
        if station.machines == 1:
            starts = ev.order_starts.get(station.id, ())
            for spell in setup_spells(ev.states.get(station.id, ()), ev.end):
                prev, cur = _family_at(starts, spell.start, plant)
                if cur is None:
                    continue
                if prev is None:
                    groups[("initial",)].append(spell.duration)
                elif prev in s.matrix and cur in s.matrix[prev]:
                    groups[("matrix", prev, cur)].append(spell.duration)
                else:
                    groups[("default",)].append(spell.duration)
        params: list[tuple[tuple[str, ...], float]] = [(("default",), s.default), (("initial",), s.initial)]
        params += [(("matrix", a, b), t) for a, row in s.matrix.items() for b, t in row.items()]
        for key, old in params:
            path = f"{base}.{'.'.join(key)}"
            xs = groups.get(key, [])
            if station.machines > 1 or len(xs) < least.setups:
                why = (
                    "a station with several machines"
                    if station.machines > 1
                    else f"{len(xs)} observed, need {least.setups}"
                )
                out.append(
                    ParameterFit(path, (*ypath, *key), old, None, None, None, len(xs), False, f"kept: {why}")
                )
                continue
            f = fit_mean(xs)
            low, high = f.low, f.high
            if high - low < 1e-9:  # a deterministic setup: exact up to the clock's resolution
                low, high = low - 1e-3, high + 1e-3
            changed = _decide(old, low, high)
            note = (
                "changed: old value outside the interval"
                if changed
                else "kept: old value inside the interval"
            )
            out.append(
                ParameterFit(
                    path,
                    (*ypath, *key),
                    old,
                    f.mean,
                    low,
                    high,
                    f.n,
                    changed,
                    note,
                    "deterministic",
                    _sig(f.mean),
                )
            )
    return out
