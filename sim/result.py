"""The result of one simulation run: flat frames the history store takes as they are, and KPIs.

Frames and their columns (plain str, int, float, bool types):
- `operations`: replication, order_id, op_index, operation, station, machine, start, end,
  setup, quantity, good, scrap (one row per lot and operation; `scrap` counts every
  defective unit, reworked ones included; `start` is when setup began);
- `orders`: replication, order_id, product, quantity, release, due, completion, lateness,
  tardiness, on_time (completion NaN if not finished in the window);
- `states`: replication, station, machine, state, start, end (`MachineState` values);
- `delays`: replication, order_id, cause, seconds: where each order's time went (queue:<station>,
  setup, processing, breakdown, off-shift, maintenance, blocked, material, resource).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.kpi import KPIS, FlowCounts, KpiRegistry, Production, TimeElements, elements_from_times, state_times

if TYPE_CHECKING:
    from sim.model import PlantModel

# Column names and dtypes of the frames (the history store takes them as they are).
OPERATION_COLUMNS = {
    "replication": "int64",
    "order_id": "object",
    "op_index": "int64",
    "operation": "object",
    "station": "object",
    "machine": "int64",
    "start": "float64",
    "end": "float64",
    "setup": "float64",
    "quantity": "int64",
    "good": "int64",
    "scrap": "int64",
}
ORDER_COLUMNS = {
    "replication": "int64",
    "order_id": "object",
    "product": "object",
    "quantity": "int64",
    "release": "float64",
    "due": "float64",
    "completion": "float64",
    "lateness": "float64",
    "tardiness": "float64",
    "on_time": "bool",
}
STATE_COLUMNS = {
    "replication": "int64",
    "station": "object",
    "machine": "int64",
    "state": "object",
    "start": "float64",
    "end": "float64",
}
DELAY_COLUMNS = {"replication": "int64", "order_id": "object", "cause": "object", "seconds": "float64"}


def _str_column(values: list[str]) -> Any:
    """A pandas string array, built through codes: much faster than inferring from objects."""
    uniques = list(dict.fromkeys(values))
    codes = {v: i for i, v in enumerate(uniques)}
    idx = np.fromiter(map(codes.__getitem__, values), dtype=np.intp, count=len(values))
    return pd.array(np.array(uniques, dtype=object), dtype="str").take(idx)


def frame(rows: list[tuple], columns: dict[str, str], replication: int) -> pd.DataFrame:
    """A DataFrame from row tuples (without the replication column), with fixed dtypes."""
    data: dict[str, Any] = {"replication": np.full(len(rows), replication, dtype="int64")}
    for i, (name, dtype) in enumerate(list(columns.items())[1:]):
        values = [r[i] for r in rows]
        data[name] = _str_column(values) if dtype == "object" else np.array(values, dtype=dtype)
    return pd.DataFrame(data)


def _state_frame(model: PlantModel, until: float, rep: int) -> pd.DataFrame:
    """Every machine's state intervals up to `until` (the current one closed there)."""
    rows: list[tuple[str, float, float]] = []
    stations: list[str] = []
    machines: list[int] = []
    counts: list[int] = []
    for st in model.stations.values():
        for m in st.machines:
            log = m.log
            if until < model.env.now:
                log = [(x, a, min(b, until)) for x, a, b in log if a < until]
            n = len(rows)
            rows.extend(log)
            if until > m.since:
                rows.append((m.state, m.since, until))
            stations.append(st.id)
            machines.append(m.index)
            counts.append(len(rows) - n)
    station_idx = np.repeat(np.arange(len(stations)), counts)
    return pd.DataFrame(
        {
            "replication": np.full(len(rows), rep, dtype="int64"),
            "station": pd.array(np.array(stations, dtype=object), dtype="str").take(station_idx),
            "machine": np.repeat(np.array(machines, dtype="int64"), counts),
            "state": _str_column([r[0] for r in rows]),
            "start": np.array([r[1] for r in rows], dtype="float64"),
            "end": np.array([r[2] for r in rows], dtype="float64"),
        }
    )


@dataclass(frozen=True, eq=False)
class SimResult:
    """One run: frames (see the module docstring), flat KPIs, and how it was seeded."""

    operations: pd.DataFrame
    orders: pd.DataFrame
    states: pd.DataFrame
    kpis: dict[str, float]
    seed: int
    until: float
    start: float = 0.0
    replication: int = 0
    elements: dict[str, TimeElements] = field(default_factory=dict)
    """ISO 22400 time elements per station (twin.kpi), for aggregating over runs."""
    flow: FlowCounts = field(default_factory=FlowCounts)
    """The order and unit counts the plant-level KPIs are computed from."""
    delay_by_order: dict[str, dict[str, float]] = field(default_factory=dict)
    """Order id -> cause -> seconds; `delays` is the same as a long frame."""

    @cached_property
    def delays(self) -> pd.DataFrame:
        """replication, order_id, cause, seconds (built when first asked for)."""
        rows = [(oid, c, sec) for oid, d in self.delay_by_order.items() for c, sec in d.items()]
        return frame(rows, DELAY_COLUMNS, self.replication)


def build_result(
    model: PlantModel, until: float, replication: int | None = None, kpis: KpiRegistry | None = None
) -> SimResult:
    """Frames and KPIs of `model` over [model.start, until]; the KPIs are those of the registry
    `kpis` (default `twin.kpi.KPIS`), evaluated on the run's time elements and flow counts."""
    rep = model.replication if replication is None else replication
    start = model.start
    ops = frame(model.op_rows, OPERATION_COLUMNS, rep)

    states = _state_frame(model, until, rep)

    live_orders = [os_ for os_ in model.order_list if os_.completion != -math.inf]  # -inf: done before start
    ids = [os_.order.id for os_ in live_orders]
    release = np.array([os_.order.release for os_ in live_orders], dtype=float)
    due = np.array([os_.order.due for os_ in live_orders], dtype=float)
    comp = np.array([os_.completion for os_ in live_orders], dtype=float)
    comp[comp > until] = np.nan
    done = ~np.isnan(comp)
    late = comp - due
    tard = np.maximum(late, 0.0)
    ok = done & (comp <= due)
    orders = pd.DataFrame(
        {
            "replication": np.full(len(ids), rep, dtype="int64"),
            "order_id": _str_column(ids),
            "product": _str_column([os_.order.product for os_ in live_orders]),
            "quantity": np.array([os_.order.quantity for os_ in live_orders], dtype="int64"),
            "release": release,
            "due": due,
            "completion": comp,
            "lateness": late,
            "tardiness": tard,
            "on_time": ok,
        }
    )
    judged = done | (due <= until)
    open_late = ~done & (due < until)
    span = until - start
    flow = FlowCounts(
        span=span,
        units_good=sum(os_.good for os_ in live_orders),
        units_scrapped=sum(os_.scrapped for os_ in model.order_list),
        orders_completed=int(done.sum()),
        orders_judged=int(judged.sum()),
        orders_on_time=int(ok.sum()),
        lead_time_sum=float((comp[done] - release[done]).sum()),
        tardiness=float(tard[done].sum() + (until - due[open_late]).sum()),
        wip_area=model.wip_area(until) if span > 0 else 0.0,
        makespan=(float(ops["end"].max()) - start) if len(ops) else 0.0,
    )
    production = [
        Production(s, st.good, st.reject - st.rework, st.rework, st.planned_time)
        for s, st in model.stations.items()
    ]
    times = state_times(states, (start, until))
    elements = elements_from_times(times, production, model.stations)
    registry = KPIS if kpis is None else kpis
    return SimResult(
        operations=ops,
        orders=orders,
        states=states,
        kpis=registry.evaluate(elements, flow),
        seed=model.seed,
        until=until,
        start=start,
        replication=rep,
        delay_by_order={os_.order.id: dict(os_.delay) for os_ in live_orders},
        elements=elements,
        flow=flow,
    )
