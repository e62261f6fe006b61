"""`HistoryServices`: the dashboard's services backed by the history store, plus the actions
(what-if, dispatch, live state) that the composition root plugs in as callables.

Every read goes through the history's typed read API (`twin.history.HistoryReader`); the
aggregation runs there, in DuckDB, and only the result comes back. No SQL here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd

from dashboards.services import (
    Candidate,
    DispatchOutcome,
    Progress,
    RunSummary,
    ScenarioInfo,
    ShiftWindow,
    WhatIfRequest,
    WhatIfResult,
)
from twin.errors import HistoryError, PlantwinError
from twin.history import HistoryStore
from twin.history import fidelity as fidelity_reads
from twin.history.buckets import shift_windows
from twin.history.verdicts import VerdictRecord, find_verdict
from twin.live import LiveState
from twin.plant import Plant
from twin.schedule import Schedule
from twin.tagnames import process_value_tag

WhatIfRunner = Callable[[WhatIfRequest, Progress], WhatIfResult]
Dispatcher = Callable[[str], DispatchOutcome]
"""The dispatch service's action for a run id: looks the verdict up, gates, sends, records."""


class HistoryServices:
    """DashboardServices over a `HistoryStore`.

    `plant`: the plant to show (default: the latest the history holds). `live`: the live state
    from the sync client (default: rebuilt from the latest actual events, marked stale).
    `whatif`, `library`, `dispatcher`: the actions; without them the pages say they are not
    available. The dispatcher (the dispatch service) records every attempt.
    """

    def __init__(
        self,
        store: HistoryStore,
        plant: Plant | None = None,
        *,
        live: Callable[[], LiveState | None] | None = None,
        whatif: WhatIfRunner | None = None,
        library: Callable[[], list[ScenarioInfo]] | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.store = store
        self._plant = plant
        self._live = live
        self._whatif = whatif
        self._library = library
        self._dispatcher = dispatcher

    # ---- the plant and the clock ----
    def plant(self) -> Plant:
        if self._plant is None:
            found = self.store.latest_plant()
            if found is None:
                raise HistoryError(f"{self.store.path}: the history holds no plant yet; pass one")
            self._plant = found
        return self._plant

    def now(self) -> float:
        live = self._live() if self._live is not None else None
        if live is not None:
            return live.time
        t = self.store.latest_actual_time()
        return 0.0 if t is None else t

    def live_state(self) -> LiveState | None:
        if self._live is not None:
            live = self._live()
            if live is not None:
                return live
        return self.store.floor_as_recorded()  # the floor as last recorded, marked stale

    def current_shift(self, t: float) -> ShiftWindow:
        plant = self.plant()
        spec = next((plant.calendars[ln.calendar] for ln in plant.lines if ln.calendar), None)
        if spec is None:
            day = math.floor(t / 86400.0) * 86400.0
            return ShiftWindow("day", day, day + 86400.0)
        windows = shift_windows(plant, spec, t - 7 * 86400.0, t + 86400.0)
        current = [w for w in windows if w[0] <= t < w[1]]
        before = [w for w in windows if w[1] <= t]
        a, b, label = current[0] if current else (before[-1] if before else windows[0])
        return ShiftWindow(label.rsplit(" ", 1)[-1], a, b)

    # ---- floor ----
    def station_oee(self, start: float, end: float) -> pd.DataFrame:
        cols = ["station", "availability", "performance", "quality", "oee"]
        if end <= start:
            return pd.DataFrame(columns=cols)
        # one window [start, end) per station: the history's KPI engine sums the elements
        per = self.store.actual_kpis(start, end, by="station", plant=self.plant())
        if per.empty:
            return pd.DataFrame(columns=cols)
        return per[per["recorded"] > 0][cols].reset_index(drop=True)

    def _dispatched_plan(self) -> str | None:
        dispatched = self.store.list_runs(kind="dispatch", limit=1)
        if not dispatched.empty and isinstance(dispatched["parent"].iloc[0], str):
            return str(dispatched["parent"].iloc[0])
        plans = self.store.list_runs(kind="plan", limit=1)
        return None if plans.empty else str(plans["id"].iloc[0])

    def output_vs_plan(self, start: float, end: float) -> pd.DataFrame:
        cols = ["station", "planned", "actual"]
        plan = self._dispatched_plan()
        if plan is None or end <= start:
            return pd.DataFrame(columns=cols)
        df = self.store.plan_vs_actual(
            plan, None, start, end, by="station", bucket=end - start, plant=self.plant()
        )
        return df.groupby("station", as_index=False, sort=False)[["planned", "actual"]].sum()[cols]

    # ---- runs ----
    def list_runs(
        self, kind: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[RunSummary]:
        return [
            RunSummary(
                run_id=r.id,
                kind=r.kind,
                created=r.created_at,
                label=r.label,
                plant=r.plant_name or "",
                parent=r.parent,
                kpis=r.numbers(),
            )
            for r in self.store.runs(kind=kind, since=since, limit=limit)
        ]

    def schedule(self, run_id: str) -> Schedule:
        try:
            return self.store.get_schedule(run_id)
        except HistoryError as exc:
            raise KeyError(run_id) from exc

    def actual_operations(self, start: float, end: float) -> pd.DataFrame:
        """Each (order, operation, station, machine) from its first to its last event (started,
        produced, scrapped, finished) overlapping the window."""
        return self.store.actual_operations(start, end)

    def output_curves(
        self, plan_run: str, sim_run: str | None, start: float, end: float, by: str
    ) -> pd.DataFrame:
        cols = ["time", "key", "planned", "sim_p10", "sim_p50", "sim_p90", "actual"]
        if end <= start:
            return pd.DataFrame(columns=cols)
        width = max(60.0, math.ceil((end - start) / 150.0 / 60.0) * 60.0)  # about 150 points, whole minutes
        df = self.store.plan_vs_actual(plan_run, sim_run, start, end, by=by, bucket=width, plant=self.plant())
        if df.empty:
            return pd.DataFrame(columns=cols)
        last_actual = self.now()
        out = pd.DataFrame(
            {
                "time": df["bucket_end"].astype(float),
                "key": df[by].astype(str),
                "planned": df["planned_cum"].astype(float),
                "sim_p10": df["sim_cum_p10"].astype(float),
                "sim_p50": df["sim_cum_median"].astype(float),
                "sim_p90": df["sim_cum_p90"].astype(float),
                "actual": df["actual_cum"].astype(float),
            }
        )
        # after the last actual event the floor has not made those parts yet: no actual line there
        out.loc[df["bucket_start"].astype(float) > last_actual, "actual"] = np.nan
        return out

    def _verdict_record(self, run_id: str) -> VerdictRecord | None:
        """The newest verdict on the run's schedule, for the plant it was made for and the run's
        order book, found by those content hashes (whichever command checked it)."""
        try:
            schedule = self.store.get_schedule(run_id)
        except HistoryError:
            return None
        run = self.store.get_run(run_id)
        plant_hash = schedule.plant_hash or run.get("plant_hash") or ""
        return find_verdict(self.store, schedule.content_hash(), plant_hash, run.get("orders_hash") or "")

    def _verdict_run(self, plan_run: str) -> str | None:
        rec = self._verdict_record(plan_run)
        return rec.run_id if rec is not None else None

    def orders_at_risk(self, plan_run: str, threshold: float) -> pd.DataFrame:
        cols = [
            "order_id",
            "product",
            "due",
            "planned_completion",
            "on_time_probability",
            "ci_low",
            "ci_high",
        ]
        verdict = self._verdict_run(plan_run)
        if verdict is None:
            return pd.DataFrame(columns=cols)
        orders = self.store.get_verdict_orders(verdict)
        risky = orders[orders["on_time_probability"] < threshold].copy()
        products = {o.id: o.product for o in self.store.get_orders(plan_run)}
        risky["product"] = [products.get(o, "") for o in risky["order_id"]]
        return risky.sort_values("on_time_probability")[cols].reset_index(drop=True)

    # ---- what-if ----
    def scenario_library(self) -> list[ScenarioInfo]:
        return self._library() if self._library is not None else []

    def run_whatif(self, request: WhatIfRequest, progress: Progress) -> WhatIfResult:
        if self._whatif is None:
            raise PlantwinError(
                "what-if runs are not available in this dashboard (no scenario runner configured)"
            )
        return self._whatif(request, progress)

    # ---- dispatch ----
    def candidates(self) -> list[Candidate]:
        out = []
        for run in self.list_runs(kind="plan", limit=20):
            try:
                schedule = self.store.get_schedule(run.run_id)
            except HistoryError:
                continue
            rec = self._verdict_record(run.run_id)
            verdict = rec.verdict if rec is not None else None
            out.append(Candidate(run.run_id, run.label, schedule, verdict, run.created))
        return out

    def dispatch(self, run_id: str) -> DispatchOutcome:
        """Hand the plan to the dispatch service of the composition root, which looks its verdict
        up again, gates, sends and records; the checks here only spare it a hopeless call."""
        cand = next((c for c in self.candidates() if c.run_id == run_id), None)
        if cand is None:
            return DispatchOutcome(False, f"{run_id} is not a plan in the history")
        if cand.verdict is None:
            return DispatchOutcome(False, f"{run_id} has not been checked by the simulator: not dispatched")
        if not cand.verdict.accepted:
            why = "; ".join(cand.verdict.reasons) or "refused"
            return DispatchOutcome(False, f"{run_id} was refused by the simulator: {why}")
        if self._dispatcher is None:
            return DispatchOutcome(
                False, "no dispatch target is configured (run the dashboard from plantwin serve)"
            )
        return self._dispatcher(run_id)

    # ---- quality ----
    def process_series(
        self, station: str, tag: str, start: float | None, end: float | None, limit: int
    ) -> pd.DataFrame:
        return self.store.process_series(station, process_value_tag(tag), start, end, limit)

    # ---- history ----
    def compare_runs(self, a: str, b: str) -> pd.DataFrame:
        ra, rb = self.store.run(a), self.store.run(b)
        head = [
            ("kind", ra.kind, rb.kind),
            ("created", f"{ra.created_at:%Y-%m-%d %H:%M:%S}", f"{rb.created_at:%Y-%m-%d %H:%M:%S}"),
            ("started by", ra.started_by, rb.started_by),
            ("plant", ra.plant_name or "-", rb.plant_name or "-"),
            ("status", ra.status, rb.status),
        ]
        rows = [{"item": k, "a": str(x), "b": str(y)} for k, x, y in head]
        kpis = self.store.compare_runs(a, b)
        for r in kpis.itertuples(index=False):
            rows.append({"item": r.kpi, "a": _num(r.a, r.low_a, r.high_a), "b": _num(r.b, r.low_b, r.high_b)})
        return pd.DataFrame(rows, columns=["item", "a", "b"])

    # ---- fidelity ----
    def fidelity_scores(self) -> pd.DataFrame:
        df = fidelity_reads.fidelity_history(self.store)
        rows = []
        for r in df.itertuples(index=False):
            k = json.loads(r.kpis) if isinstance(r.kpis, str) else (r.kpis or {})

            def num(name: str, scale: float = 1.0, k: dict = k) -> float:
                v = k.get(name)
                return float(v) / scale if isinstance(v, int | float) else math.nan

            rows.append(
                {
                    "created": r.created_at,
                    "run_id": r.id,
                    "simulation": r.parent,
                    "coverage": num("coverage"),
                    "cells": int(k.get("coverage_cells") or 0),
                    "bias_h": num("completion_bias_s", 3600.0),
                    "mae_h": num("completion_mae_s", 3600.0),
                    "brier": num("brier"),
                }
            )
        cols = ["created", "run_id", "simulation", "coverage", "cells", "bias_h", "mae_h", "brier"]
        return pd.DataFrame(rows, columns=cols)

    def fidelity_misses(self, run_id: str) -> pd.DataFrame:
        df = fidelity_reads.fidelity_details(self.store, run_id)
        keys = df["name"].str.removeprefix("coverage[").str.removesuffix("]").str.split("/", n=1)
        out = pd.DataFrame(
            {
                "station": [k[0] for k in keys],
                "product": [k[1] if len(k) > 1 else "" for k in keys],
                "coverage": df["mean"].astype(float),
                "cells": df["n"].astype(int),
            }
        )
        return out.sort_values(["coverage", "station"]).reset_index(drop=True)


def _num(v: float, low: float, high: float) -> str:
    if v is None or not np.isfinite(v):
        return "-"
    if low is not None and high is not None and np.isfinite(low) and np.isfinite(high) and low != high:
        return f"{v:.4g} [{low:.4g}, {high:.4g}]"
    return f"{v:.4g}"
