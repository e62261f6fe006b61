"""`HistoryServices`: the dashboard's services backed by the history store, plus the actions
(what-if, dispatch, live state) that the composition root plugs in as callables.

Queries aggregate in DuckDB (through `HistoryStore`'s queries or small SQL here); only the
result, never the events, comes back to Python.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

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
from twin.history.codec import loads
from twin.live import LiveState, OperationProgress, StationLive
from twin.plant import Plant
from twin.schedule import Schedule
from twin.states import MachineState
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict

WhatIfRunner = Callable[[WhatIfRequest, Progress], WhatIfResult]
Dispatcher = Callable[[str, Schedule], DispatchOutcome]

_GOOD = "(status_code >> 30) = 0"
"""OPC UA severity bits 00: a Good value (uncertain and bad values are not charted)."""


def _flat_numbers(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat_numbers(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[prefix] = float(value)


class HistoryServices:
    """DashboardServices over a `HistoryStore`.

    `plant`: the plant to show (default: the latest the history holds). `live`: the live state
    from the sync client (default: rebuilt from the latest actual events, marked stale).
    `whatif`, `library`, `dispatcher`: the actions; without them the pages say they are not
    available. A dispatch that goes through is recorded as a 'dispatch' run of the plan.
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
        row = self.store.sql("SELECT max(time) AS t FROM actual_events")
        t = row["t"].iloc[0]
        return float(t) if pd.notna(t) else 0.0

    def live_state(self) -> LiveState | None:
        if self._live is not None:
            live = self._live()
            if live is not None:
                return live
        return self._state_from_history()

    def _state_from_history(self) -> LiveState | None:
        """The last recorded state and the counters of each station: the floor as the history
        last saw it (stale: nothing is syncing)."""
        df = self.store.sql(
            """
            WITH s AS (
                SELECT station, arg_max(state, time) AS state, max(time) AS since
                FROM actual_events WHERE kind = 'state' GROUP BY station
            ),
            c AS (
                SELECT station,
                       coalesce(sum(quantity) FILTER (WHERE kind = 'produced'), 0) AS good,
                       coalesce(sum(quantity) FILTER (WHERE kind = 'scrapped'), 0) AS reject,
                       max(time) AS heard
                FROM actual_events GROUP BY station
            )
            SELECT c.station, s.state, s.since, c.good, c.reject, c.heard
            FROM c LEFT JOIN s USING (station)
            """
        )
        if df.empty:
            return None
        stations = {}
        for r in df.itertuples(index=False):
            try:
                state = MachineState(r.state) if isinstance(r.state, str) else MachineState.IDLE
            except ValueError:
                state = MachineState.IDLE
            stations[r.station] = StationLive(
                station=r.station,
                state=state,
                since=float(r.since) if pd.notna(r.since) else float(r.heard),
                good_count=int(r.good),
                reject_count=int(r.reject),
                last_heard=float(r.heard),
            )
        last = float(df["heard"].max())
        return LiveState(
            time=last, stations=stations, in_progress=self._under_way(), stale=True, last_good=last
        )

    def _under_way(self) -> tuple[OperationProgress, ...]:
        """The latest started operation of every order started and not finished (the WIP)."""
        df = self.store.sql(
            """
            WITH started AS (
                SELECT order_id, arg_max(operation, time) AS operation, arg_max(station, time) AS station,
                       arg_max(coalesce(machine, 0), time) AS machine, max(time) AS t
                FROM actual_events WHERE kind = 'order_started' AND order_id IS NOT NULL GROUP BY order_id
            ),
            finished AS (SELECT DISTINCT order_id FROM actual_events WHERE kind = 'order_finished')
            SELECT s.* FROM started s ANTI JOIN finished f USING (order_id) ORDER BY s.t
            """
        )
        return tuple(
            OperationProgress(r.order_id, -1, r.station, int(r.machine), float(r.t))
            for r in df.itertuples(index=False)
        )

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
        per = self.store.oee_per_shift(start, end, plant=self.plant())
        per = per[per["recorded"] > 0]
        if per.empty:
            return pd.DataFrame(columns=cols)
        # sum the time elements and quantities, then divide: OEE is not additive
        g = per.groupby("station", sort=False)[["pbt", "apt", "planned_run_time", "pq", "gq"]].sum(
            min_count=1
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            out = pd.DataFrame(
                {
                    "station": g.index,
                    "availability": np.where(g["pbt"] > 0, g["apt"] / g["pbt"], np.nan),
                    "performance": np.where(g["apt"] > 0, g["planned_run_time"] / g["apt"], np.nan),
                    "quality": np.where(g["pq"] > 0, g["gq"] / g["pq"], np.nan),
                }
            )
        out["oee"] = out["availability"] * out["performance"] * out["quality"]
        return out.reset_index(drop=True)

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
        df = self.store.list_runs(kind=kind, since=since, limit=limit)
        out = []
        for r in df.itertuples(index=False):
            kpis: dict[str, float] = {}
            _flat_numbers("", loads(r.kpis), kpis)
            params = loads(r.params) or {}
            label = str(params.get("name") or params.get("scenario") or r.started_by)
            out.append(
                RunSummary(
                    run_id=r.id,
                    kind=r.kind,
                    created=pd.Timestamp(r.created_at).to_pydatetime(),
                    label=label,
                    plant=r.plant_name or "",
                    parent=r.parent if isinstance(r.parent, str) else None,
                    kpis=kpis,
                )
            )
        return out

    def schedule(self, run_id: str) -> Schedule:
        try:
            return self.store.get_schedule(run_id)
        except HistoryError as exc:
            raise KeyError(run_id) from exc

    def actual_operations(self, start: float, end: float) -> pd.DataFrame:
        """Each (order, operation, station, machine) from its first to its last event (started,
        produced, scrapped, finished) overlapping the window."""
        return self.store.sql(
            """
            WITH prod AS (
                SELECT order_id, arg_max(product, b.stored_at) AS product
                FROM order_book_rows r JOIN order_books b ON b.hash = r.book GROUP BY order_id
            ),
            ops AS (
                SELECT order_id, operation, station, coalesce(machine, 0) AS machine,
                       min(time) AS start, max(time) AS "end"
                FROM actual_events
                WHERE kind IN ('order_started', 'produced', 'scrapped', 'order_finished')
                  AND order_id IS NOT NULL AND operation IS NOT NULL
                GROUP BY ALL
            )
            SELECT o.order_id, -1 AS op_index, o.operation, o.station, o.machine, o.start, o."end",
                   coalesce(p.product, '') AS product
            FROM ops o LEFT JOIN prod p USING (order_id)
            WHERE o."end" >= ? AND o.start < ?
            ORDER BY o.start
            """,
            [start, end],
        )

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

    def _verdict_run(self, plan_run: str) -> str | None:
        found = self.store.list_runs(kind="verdict", parent=plan_run, limit=1)
        return None if found.empty else str(found["id"].iloc[0])

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
    def _verdict(self, verdict_run: str) -> Verdict:
        head = self.store.sql("SELECT * FROM verdicts WHERE run_id = ?", [verdict_run]).iloc[0]
        orders = self.store.get_verdict_orders(verdict_run)
        policy = loads(head["policy"]) or {}
        return Verdict(
            schedule_hash=str(head["schedule_hash"]),
            accepted=bool(head["accepted"]),
            reasons=tuple(loads(head["reasons"]) or ()),
            orders=tuple(
                OrderVerdict(
                    order_id=str(o.order_id),
                    due=float(o.due) if pd.notna(o.due) else math.inf,
                    planned_completion=float(o.planned_completion)
                    if pd.notna(o.planned_completion)
                    else None,
                    on_time_probability=float(o.on_time_probability),
                    ci_low=float(o.ci_low),
                    ci_high=float(o.ci_high),
                    mean_completion=float(o.mean_completion) if pd.notna(o.mean_completion) else math.nan,
                    mean_lateness=float(o.mean_lateness) if pd.notna(o.mean_lateness) else 0.0,
                    delay=loads(o.delay) or {},
                )
                for o in orders.itertuples(index=False)
            ),
            makespans=tuple(loads(head["makespans"]) or ()),
            replications=int(head["replications"]),
            seed=int(head["seed"]),
            policy=AcceptancePolicy(
                **{k: v for k, v in policy.items() if k in ("min_on_time", "service_level")}
            ),
        )

    def candidates(self) -> list[Candidate]:
        out = []
        for run in self.list_runs(kind="plan", limit=20):
            try:
                schedule = self.store.get_schedule(run.run_id)
            except HistoryError:
                continue
            verdict_run = self._verdict_run(run.run_id)
            verdict = self._verdict(verdict_run) if verdict_run else None
            if verdict is not None and verdict.schedule_hash != schedule.content_hash():
                verdict = None  # a verdict on another version of the plan says nothing about this one
            out.append(Candidate(run.run_id, run.label, schedule, verdict, run.created))
        return out

    def dispatch(self, run_id: str) -> DispatchOutcome:
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
        outcome = self._dispatcher(run_id, cand.schedule)
        if outcome.ok:
            rec = self.store.record_run(
                "dispatch",
                started_by="dashboard",
                plant=self.plant(),
                parent=run_id,
                params={"schedule_hash": cand.schedule.content_hash()},
            )
            return DispatchOutcome(True, outcome.message, rec)
        return outcome

    # ---- quality ----
    def process_series(
        self, station: str, tag: str, start: float | None, end: float | None, limit: int
    ) -> pd.DataFrame:
        df = self.store.sql(
            f"""
            SELECT time, value FROM actual_values
            WHERE station = ? AND tag = ? AND value IS NOT NULL AND isfinite(value) AND {_GOOD}
              AND time >= ? AND time < ?
            ORDER BY time DESC LIMIT ?
            """,
            [station, tag, -1e300 if start is None else start, 1e300 if end is None else end, int(limit)],
        )
        return df.iloc[::-1].reset_index(drop=True)

    # ---- history ----
    def compare_runs(self, a: str, b: str) -> pd.DataFrame:
        ra, rb = self.store.get_run(a), self.store.get_run(b)
        head = [
            ("kind", ra["kind"], rb["kind"]),
            ("created", f"{ra['created_at']:%Y-%m-%d %H:%M:%S}", f"{rb['created_at']:%Y-%m-%d %H:%M:%S}"),
            ("started by", ra["started_by"], rb["started_by"]),
            ("plant", ra.get("plant_name") or "-", rb.get("plant_name") or "-"),
            ("status", ra["status"], rb["status"]),
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
