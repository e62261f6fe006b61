"""The accuracy score wired to the history: score a prediction, keep the score, alert on it.

Pure scoring is `twin.fidelity`; the reads are `twin.history.fidelity`. Used by
`plantwin fidelity`, the demo and `serve` (through `coverage_alert`) and the tests.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twin.errors import InputError, Issue
from twin.fidelity import ALL, NOMINAL, FidelityScore, score
from twin.history import fidelity as reads
from twin.history.store import HistoryStore
from twin.plant import Plant
from twin.stats import Estimate


@dataclass(frozen=True)
class ScoredPrediction:
    """A score with what it scored: the simulation run, its parent (the plan), the plant."""

    simulation: str
    plan: str | None
    plant: str
    score: FidelityScore

    def to_dict(self) -> dict[str, Any]:
        return {"simulation": self.simulation, "plan": self.plan, "plant": self.plant, **self.score.to_dict()}


def _actual_completions(units: pd.DataFrame, orders: pd.DataFrame, plant: Plant) -> dict[str, float]:
    """When each order's last operation had made its quantity (orders still open are absent)."""
    out: dict[str, float] = {}
    meta = orders.groupby("order_id").agg(product=("product", "first"), quantity=("quantity", "first"))
    last_op = {p.id: p.routing[-1].id for p in plant.products}
    for order_id, group in units.groupby("order_id"):
        if order_id not in meta.index:
            continue
        product, quantity = meta.loc[order_id, "product"], int(meta.loc[order_id, "quantity"])
        g = group[group["operation"] == last_op.get(product)].sort_values("time")
        if g.empty:
            continue
        cum = np.cumsum(g["good"].to_numpy())
        hit = np.searchsorted(cum, quantity)
        if hit < len(cum):
            out[str(order_id)] = float(g["time"].to_numpy()[hit])
    return out


def score_prediction(store: HistoryStore, simulation: str, until: float | None = None) -> ScoredPrediction:
    """Score one simulation run against the actuals recorded since its start.

    Raises:
        InputError: the run has no replications, or no actuals follow its start.
    """
    run = store.get_run(simulation)
    params = run.get("params") or {}
    if isinstance(params, str):
        params = json.loads(params)
    if not run.get("plant_hash"):
        raise InputError(Issue(f"run {simulation} names no plant", "--plan"))
    plant = store.get_plant(run["plant_hash"])
    start = float(params.get("warm_start") or 0.0)
    last = reads.last_actual_time(store)
    end = last if until is None else min(last, until)
    if not math.isfinite(end) or end <= start:
        raise InputError(
            Issue(f"no actuals from the floor after the start of prediction {simulation}", "--plan")
        )
    ops = reads.simulated_operations(store, simulation)
    orders = reads.simulated_orders(store, simulation)
    batch = {(p.id, op.id): op.batch_time for p in plant.products for op in p.routing}
    ops["batch"] = [batch.get((p, o), 0.0) for p, o in zip(ops["product"], ops["operation"], strict=True)]
    products = orders.groupby("order_id")["product"].first().to_dict()
    units = reads.actual_good_units(store, start, end)
    units = units[units["order_id"].isin(products)].copy()
    units["product"] = units["order_id"].map(products)
    shared = frozenset(s.id for s in plant.stations if s.machines > 1)
    completion = _actual_completions(units, orders, plant)
    result = score(
        sim_ops=ops,
        sim_orders=orders.assign(completion=orders["completion"].astype(float).fillna(math.inf)),
        actual_units=units,
        actual_completion=completion,
        start=start,
        end=end,
        shared=shared,
    )
    return ScoredPrediction(simulation, run.get("parent"), plant.name, result)


def record_score(store: HistoryStore, scored: ScoredPrediction, started_by: str) -> str:
    """Keep a score in the history: a 'fidelity' run under the simulation, details in run_kpis."""
    s = scored.score
    kpis = {
        "coverage": s.coverage,
        "coverage_cells": s.cells,
        "completion_bias_s": s.completion_bias,
        "completion_mae_s": s.completion_mae,
        "brier": s.brier,
    }
    with store.transaction():
        run_id = store.record_run(
            "fidelity",
            started_by=started_by,
            parent=scored.simulation,
            params={"plan": scored.plan, "start": s.start, "end": s.end, "nominal": NOMINAL},
            kpis={k: (v if isinstance(v, int) or math.isfinite(v) else None) for k, v in kpis.items()},
        )
        details: dict[str, Estimate | float] = {
            f"coverage[{st}/{pr}]": Estimate(v, v, v, n) for (st, pr), (v, n) in s.by_station_product.items()
        }
        store.add_kpis(run_id, details)
    return run_id


def coverage_alert(scored: ScoredPrediction, minimum: float, least_cells: int = 20) -> str | None:
    """An alert text when the coverage is below `minimum` on enough cells (None otherwise)."""
    s = scored.score
    if s.cells < least_cells or not math.isfinite(s.coverage) or s.coverage >= minimum:
        return None
    worst = sorted(((v, k) for k, (v, n) in s.by_station_product.items() if n >= 3))[:3]
    where = ", ".join(f"{st}/{pr} {v:.0%}" if pr != ALL else f"{st} {v:.0%}" for v, (st, pr) in worst)
    return (
        f"prediction {scored.simulation}: only {s.coverage:.0%} of {s.cells} station-hours inside the "
        f"simulated P10-P90 band (policy {minimum:.0%}); worst: {where}. Consider 'plantwin calibrate'."
    )


class FidelityWatch:
    """The service's hook: score the newest prediction whenever the floor has moved on by `every`
    plant seconds, keep the score, and return an alert text when coverage is below `minimum`."""

    def __init__(self, store: HistoryStore, minimum: float, every: float = 4 * 3600.0) -> None:
        self.store = store
        self.minimum = minimum
        self.every = every
        self._last: tuple[str, float] | None = None
        self.scores: list[str] = []

    def check(self) -> str | None:
        """Score if due (None when nothing is due, nothing to score, or the score is fine)."""
        preds = reads.predictions(self.store)
        if preds.empty:
            return None
        sim = str(preds["id"].iloc[-1])
        now = reads.last_actual_time(self.store)
        if not math.isfinite(now) or (
            self._last and self._last[0] == sim and now - self._last[1] < self.every
        ):
            return None
        try:
            scored = score_prediction(self.store, sim)
        except InputError:
            return None  # no actuals after this prediction's start yet
        self._last = (sim, now)
        self.scores.append(record_score(self.store, scored, "fidelity-watch"))
        return coverage_alert(scored, self.minimum)
