"""How far to trust the twin: its prediction of a plan scored against what the floor then did.

Three scores (formulas in docs/fidelity.md), all from plain data:

- coverage: per station and product and per hour, is the actual cumulative output inside the
  simulated P10-P90 band of the replications? About 80 % of the cells when the model is right;
  a cell where band and actual are all equal (nothing due yet, or everything done) says nothing
  and is not counted. A station with several machines is scored over all its products
  (product '*'): its one order tag cannot tell its machines' units apart;
- completion: bias and mean absolute error (actual - predicted) of order completion times,
  predicted = the mean over the replications that completed the order;
- Brier score of the predicted on-time probabilities against what happened (0 perfect,
  0.25 a coin toss), over orders that completed or whose due date passed unfinished.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NOMINAL = 0.8
"""The coverage of a P10-P90 band when the model is right."""
HOUR = 3600.0
ALL = "*"


@dataclass(frozen=True)
class CoverageCell:
    """One station/product and hour: actual cumulative output and the simulated band."""

    station: str
    product: str
    hour: int
    actual: float
    p10: float
    p90: float

    @property
    def covered(self) -> bool:
        return self.p10 - 1e-9 <= self.actual <= self.p90 + 1e-9


@dataclass(frozen=True)
class FidelityScore:
    """The scores of one prediction over the window [start, end) of plant time."""

    start: float
    end: float
    coverage: float
    cells: int
    by_station_product: dict[tuple[str, str], tuple[float, int]]
    completion_bias: float
    completion_mae: float
    completed: int
    brier: float
    brier_orders: int
    cell_rows: tuple[CoverageCell, ...] = field(default=(), repr=False)

    def by(self, axis: str) -> dict[str, tuple[float, int]]:
        """Coverage and cell count per station (axis 'station') or per product ('product')."""
        acc: dict[str, list[int]] = {}
        for (station, product), (cov, n) in self.by_station_product.items():
            key = station if axis == "station" else product
            a = acc.setdefault(key, [0, 0])
            a[0] += round(cov * n)
            a[1] += n
        return {k: (h / n if n else math.nan, n) for k, (h, n) in acc.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": {"start": self.start, "end": self.end},
            "coverage": {
                "value": self.coverage,
                "nominal": NOMINAL,
                "cells": self.cells,
                "by_station": {k: {"value": v, "cells": n} for k, (v, n) in self.by("station").items()},
                "by_product": {k: {"value": v, "cells": n} for k, (v, n) in self.by("product").items()},
                "by_station_product": [
                    {"station": s, "product": p, "value": v, "cells": n}
                    for (s, p), (v, n) in sorted(self.by_station_product.items())
                ],
            },
            "completion": {
                "bias_s": self.completion_bias,
                "mae_s": self.completion_mae,
                "orders": self.completed,
            },
            "brier": {"score": self.brier, "orders": self.brier_orders},
        }


def _cum_sim(ops: pd.DataFrame, times: np.ndarray, reps: Sequence[int]) -> np.ndarray:
    """Cumulative good output at `times` per replication (rows), units spread evenly over the
    working part of each operation (after its setup and fixed batch time)."""
    out = np.zeros((len(reps), len(times)))
    index = {r: i for i, r in enumerate(reps)}
    rows = np.array([index[int(r)] for r in ops["replication"]], dtype=int)
    s = (ops["start"] + ops["setup"] + ops["batch"]).to_numpy(dtype=float)[:, None]
    e = ops["end"].to_numpy(dtype=float)[:, None]
    g = ops["good"].to_numpy(dtype=float)[:, None]
    frac = np.clip((times[None, :] - s) / np.maximum(e - s, 1e-9), 0.0, 1.0)
    np.add.at(out, rows, g * frac)
    return out


def coverage_cells(
    sim_ops: pd.DataFrame,
    actual_units: pd.DataFrame,
    start: float,
    end: float,
    shared: frozenset[str] = frozenset(),
) -> list[CoverageCell]:
    """Cells per (station, product) and whole hour after `start` up to `end`.

    sim_ops: replication, station, product, start, end, setup, batch, good;
    actual_units: time, station, product, good (one row per counted unit or batch of units);
    shared: stations with several machines (scored over all products).
    """
    hours = math.floor((end - start) / HOUR + 1e-9)
    if hours < 1 or sim_ops.empty:
        return []
    times = start + HOUR * np.arange(1, hours + 1)
    reps = sorted(int(r) for r in sim_ops["replication"].unique())
    sim = sim_ops.copy()
    act = actual_units.copy()
    sim.loc[sim["station"].isin(shared), "product"] = ALL
    if not act.empty:
        act.loc[act["station"].isin(shared), "product"] = ALL
    cells: list[CoverageCell] = []
    for (station, product), group in sim.groupby(["station", "product"], sort=True):
        cum = _cum_sim(group, times, reps)
        p10 = np.quantile(cum, 0.1, axis=0)
        p90 = np.quantile(cum, 0.9, axis=0)
        mine = act[(act["station"] == station) & (act["product"] == product)] if not act.empty else act
        mine = mine.sort_values("time")
        t = mine["time"].to_numpy(dtype=float)
        q = mine["good"].to_numpy(dtype=float)
        csum = np.concatenate([[0.0], np.cumsum(q)])
        actual = csum[np.searchsorted(t, times, side="right")]
        for h in range(hours):
            if abs(p10[h] - p90[h]) < 1e-9 and abs(actual[h] - p10[h]) < 1e-9:
                continue  # band and actual agree exactly: nothing due yet, or all done
            cells.append(
                CoverageCell(
                    str(station), str(product), h + 1, float(actual[h]), float(p10[h]), float(p90[h])
                )
            )
    return cells


def completion_errors(
    predicted: Mapping[str, float], actual: Mapping[str, float]
) -> tuple[float, float, int]:
    """(bias, MAE, n) of actual - predicted completion over orders known on both sides."""
    diffs = [actual[o] - predicted[o] for o in actual if o in predicted and math.isfinite(predicted[o])]
    if not diffs:
        return math.nan, math.nan, 0
    return float(np.mean(diffs)), float(np.mean(np.abs(diffs))), len(diffs)


def brier_score(
    probability: Mapping[str, float], due: Mapping[str, float], actual: Mapping[str, float], end: float
) -> tuple[float, int]:
    """Mean squared error of on-time probabilities over orders whose outcome is known by `end`."""
    errors = []
    for order, p in probability.items():
        d = due.get(order, math.inf)
        if not math.isfinite(d):
            continue
        if order in actual:
            outcome = 1.0 if actual[order] <= d + 1e-6 else 0.0
        elif d < end:
            outcome = 0.0  # due passed, not finished
        else:
            continue
        errors.append((p - outcome) ** 2)
    return (float(np.mean(errors)), len(errors)) if errors else (math.nan, 0)


def score(
    *,
    sim_ops: pd.DataFrame,
    sim_orders: pd.DataFrame,
    actual_units: pd.DataFrame,
    actual_completion: Mapping[str, float],
    start: float,
    end: float,
    shared: frozenset[str] = frozenset(),
) -> FidelityScore:
    """Every score of one prediction (see the module docstring).

    sim_orders: replication, order_id, due, completion (NaN or inf if not completed), on_time.
    """
    cells = coverage_cells(sim_ops, actual_units, start, end, shared)
    per: dict[tuple[str, str], list[int]] = {}
    for c in cells:
        a = per.setdefault((c.station, c.product), [0, 0])
        a[0] += c.covered
        a[1] += 1
    by = {k: (h / n, n) for k, (h, n) in per.items()}
    hit = sum(c.covered for c in cells)
    so = sim_orders.copy()
    so["done"] = np.isfinite(so["completion"].astype(float))
    predicted = so[so["done"]].groupby("order_id")["completion"].mean().to_dict()
    prob = so.groupby("order_id")["on_time"].mean().astype(float).to_dict()
    due = so.groupby("order_id")["due"].first().astype(float).to_dict()
    bias, mae, n = completion_errors(predicted, actual_completion)
    brier, nb = brier_score(prob, due, actual_completion, end)
    return FidelityScore(
        start,
        end,
        hit / len(cells) if cells else math.nan,
        len(cells),
        by,
        bias,
        mae,
        n,
        brier,
        nb,
        tuple(cells),
    )
