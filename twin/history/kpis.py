"""Actual-side KPIs from the floor's events, through the one KPI engine (`twin.kpi`).

Per station, and per station and shift, over a window [start, end):

- **Time elements** from the 'state' events: each state lasts until the machine's next state
  event (or the window end); time before a machine's first state event is unknown and not
  counted (`recorded` is the time covered). Events with the same time are taken in the order
  they were written (DuckDB's `rowid`, which follows insertion order): the last state written
  at an instant is the one that lasts, never a state picked by chance.
- **Parallel machines.** Where the state events carry a machine number, each machine has its
  own intervals and the elements are summed over the machines (machine-seconds). Where only
  the station's state is known (machine NULL: one State tag for k machines), the station's
  elements are counted k times, so the planned capacity holds all k machines: availability
  keeps its meaning and effectiveness is PRI x PQ / (k x APT), never above 100 % because two
  machines produced at once. `state_basis` says which ('machine' or 'station').
- **Quantities** from 'produced' (good) and 'scrapped' events: PQ = GQ + SQ (the floor's
  reject counter includes reworked units, so RQ is 0 here).
- **Planned run time** = sum of PRI x units over produced and scrapped units, plus the
  operation's planned batch time once per lot started ('order_started' events: a new order
  on the station). PRI is the operation's mean unit time from the plant file. The product of
  an order comes from the order books in the history; without one it is inferred from the
  plant's routings: the product whose routing holds most of the units the order was seen
  with (station, operation), or any product when all candidates agree on the time.
  Units whose ideal time stays unknown make effectiveness (and OEE) not measured.
- **Not measured, not a number.** A station whose floor never reported a tag has the KPIs
  that need it as NaN (null in JSON) and says why in `not_measured`: no State -> no time
  elements, availability, effectiveness, OEE; no GoodCount -> no produced, effectiveness,
  quality, OEE; no RejectCount -> no scrapped, quality, OEE; lots with a batch time but no
  CurrentOrder -> no effectiveness, OEE. A tag counts as reported when the history holds one
  of its values (or, in a history without raw values, an event derived from it).

Ratios come from `twin.kpi.TimeElements` on elements summed over the group: never averaged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from twin.errors import HistoryError
from twin.history import buckets
from twin.history.codec import add_timestamps, plant_seconds
from twin.history.codec import one as _one
from twin.kpi import KPIS, KpiRegistry, TimeElements
from twin.plant import Plant
from twin.states import DELAY, MachineState

BY = ("station", "shift")
ISO_ELEMENTS = {
    "pot": "POT",
    "pdot": "PDOT",
    "pbt": "PBT",
    "apt": "APT",
    "aust": "AUST",
    "adet": "ADET",
    "adot": "ADOT",
    "aubt": "AUBT",
}
"""Column -> ISO 22400 symbol of the time elements (seconds; machine-seconds on k machines)."""
LOOKBACK = 7 * 86400.0
"""How far before the window lot starts are read, to attribute units on parallel machines
(only with an order book, the only case that re-attributes)."""

_TIME_BASED = ("availability", "performance", "oee", "nee", "effectiveness")
_NEEDS_GOOD = ("performance", "quality", "oee", "nee", "effectiveness")
_NEEDS_REJECT = ("quality", "oee", "nee")
_NEEDS_PRI = ("performance", "oee", "nee", "effectiveness")


def _windows(plant: Plant, s: float, e: float, by: str) -> pd.DataFrame:
    """station, shift, s_start, s_end: one window per station, or its shifts clipped to [s, e)."""
    if by == "station":
        return pd.DataFrame(
            {
                "station": [st.id for st in plant.stations],
                "shift": "",
                "s_start": s,
                "s_end": e,
            }
        )
    shifts = buckets.station_shifts(plant, s, e)
    shifts["s_start"] = shifts["s_start"].clip(lower=s)
    shifts["s_end"] = shifts["s_end"].clip(upper=e)
    return shifts[shifts["s_end"] > shifts["s_start"]].reset_index(drop=True)


def _window_bounds(cur: duckdb.DuckDBPyConnection, plant: Plant, start: Any, end: Any) -> tuple[float, float]:
    s = plant_seconds(start, plant.epoch, -math.inf)
    e = plant_seconds(end, plant.epoch, math.inf)
    if not (math.isfinite(s) and math.isfinite(e)):
        lo, hi = _one(cur.execute("SELECT min(time), max(time) FROM actual_events")) or (None, None)
        if lo is None:
            lo, hi = 0.0, 0.0
        s = s if math.isfinite(s) else float(lo)
        e = e if math.isfinite(e) else math.nextafter(float(hi), math.inf)
    return s, e


def _events(cur: duckdb.DuckDBPyConnection) -> str:
    """The actual events with `seq`, the order they were written in: the file's rowid, or in a
    published snapshot (views have no rowid) the row number in its Parquet file."""
    found = _one(
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'actual_events_seq'")
    )
    if found and found[0]:
        return "actual_events_seq"
    return "(SELECT rowid AS seq, * FROM actual_events)"


def _state_seconds(cur: duckdb.DuckDBPyConnection, src: str, s: float, e: float) -> pd.DataFrame:
    """Seconds per (station, shift, state) inside the registered windows `_pw_kwin`."""
    query = f"""
    WITH st AS (
        SELECT station, machine, time, state, seq FROM {src}
        WHERE kind = 'state' AND time >= $s AND time < $e
        UNION ALL  -- the state each machine was in at the window start (the last one written)
        SELECT station, machine, time, state, seq FROM (
            SELECT station, machine, time, state, seq, row_number() OVER (
                PARTITION BY station, coalesce(machine, -1) ORDER BY time DESC, seq DESC) AS rn
            FROM {src} WHERE kind = 'state' AND time < $s
        ) WHERE rn = 1
    ),
    ev AS (
        SELECT station, state, greatest(time, $s) AS a,
               lead(time) OVER (PARTITION BY station, coalesce(machine, -1) ORDER BY time, seq) AS nxt
        FROM st
    ),
    iv AS (SELECT station, state, a, coalesce(nxt, $e) AS b FROM ev WHERE coalesce(nxt, $e) > $s)
    SELECT w.station, w.shift, iv.state, sum(least(iv.b, w.s_end) - greatest(iv.a, w.s_start)) AS d
    FROM iv JOIN _pw_kwin w ON iv.station = w.station AND iv.a < w.s_end AND iv.b > w.s_start
    GROUP BY ALL
    """
    return cur.execute(query, {"s": s, "e": e}).df()


def _measured(cur: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Per station, the tags its floor reported ('state', 'good_count', 'reject_count', 'current_order')."""
    values = cur.execute(
        "SELECT DISTINCT station, tag FROM actual_values WHERE station IS NOT NULL AND tag IN "
        "('state', 'good_count', 'reject_count', 'current_order')"
    ).fetchall()
    events = cur.execute("SELECT DISTINCT station, kind FROM actual_events").fetchall()
    with_values = {s for s, _ in values}
    out: dict[str, set[str]] = defaultdict(set)
    for station, tag in values:
        out[station].add(tag)
    derived = {
        "state": ("state",),
        "produced": ("good_count", "reject_count"),
        "scrapped": ("good_count", "reject_count"),
        "order_started": ("current_order",),
        "order_finished": ("current_order",),
    }
    for station, kind in events:
        if station in with_values and kind != "order_started":
            continue  # the raw values say which tags exist
        out[station].update(derived.get(kind, ()))
    return out


def _per_machine(cur: duckdb.DuckDBPyConnection) -> set[str]:
    """Stations whose state events carry machine numbers (a State tag per machine)."""
    rows = cur.execute(
        "SELECT DISTINCT station FROM actual_events WHERE kind = 'state' AND machine IS NOT NULL"
    ).fetchall()
    return {r[0] for r in rows}


class IdealTimes:
    """PRI and batch time of what a station did, from the plant file and what is known of the order."""

    def __init__(self, plant: Plant, books: dict[str, str], seen: pd.DataFrame) -> None:
        self.plant = plant
        self.products = {p.id: p for p in plant.products}
        self.product_of: dict[str, str] = dict(books)
        self.candidates: dict[str, tuple[str, ...]] = {}
        self._cache: dict[tuple[str, tuple[str, ...], str | None], list[Any]] = {}
        self._agreed: dict[tuple[str, int], float | None] = {}
        """Resolved times per cached operation list (keyed by its id: the lists live in _cache)."""
        by_order: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
        cols = [seen[c].to_numpy(dtype=object) for c in seen.columns[:3]]
        units = seen[seen.columns[3]].to_numpy(dtype=float)
        unknown = ~pd.Series(cols[0]).isin(list(self.product_of)).to_numpy()
        for order, station, operation, n in zip(
            cols[0][unknown], cols[1][unknown], cols[2][unknown], units[unknown], strict=True
        ):
            by_order[str(order)][(str(station), str(operation))] = float(n)
        for order, where in by_order.items():
            self.candidates[order] = self._infer(where)

    def _infer(self, where: dict[tuple[str, str], float]) -> tuple[str, ...]:
        """Products that best explain where an order was seen: fewest operations skipped before
        the furthest one seen (an order passes its routing in order), then most units matched."""
        scores: dict[str, tuple[int, float]] = {}
        for p in self.plant.products:
            hits = [
                (i, where.get((st, op.id), 0.0))
                for i, op in enumerate(p.routing)
                for st in op.stations
                if (st, op.id) in where
            ]
            if not hits:
                continue
            done = {i for i, _ in hits}
            skipped = sum(1 for i in range(max(done)) if i not in done)
            scores[p.id] = (-skipped, sum(u for _, u in hits))
        if not scores:
            return ()
        best = max(scores.values())
        return tuple(p for p, v in scores.items() if v == best)

    def names(self, order: str | None) -> tuple[str, ...]:
        """The products an order may be: its book's, else the inferred candidates, else any."""
        if order is not None and order in self.product_of and self.product_of[order] in self.products:
            return (self.product_of[order],)
        if order is not None and order in self.candidates:
            return self.candidates[order]
        return tuple(self.products)

    def _ops(self, station: str, order: str | None, operation: str | None) -> list[Any]:
        return self.ops_of(station, self.names(order), operation)

    def ops_of(self, station: str, names: tuple[str, ...], operation: str | None) -> list[Any]:
        """The operations of products `names` done on `station` (named `operation` if given)."""
        key = (station, names, operation)
        found = self._cache.get(key)
        if found is None:
            ops = [op for n in names for op in self.products[n].routing if station in op.stations]
            if operation is not None:
                named = [op for op in ops if op.id == operation]
                ops = named or ops  # an operation the product lacks there: fall back to the station
            found = self._cache[key] = ops
        return found

    def pri(self, station: str, order: str | None, operation: str | None) -> float | None:
        """The mean unit time, when every operation the unit may have been agrees on it."""
        ops = self._ops(station, order, operation)
        key = ("pri", id(ops))
        if key not in self._agreed:
            self._agreed[key] = _agreed([op.time.mean for op in ops])
        return self._agreed[key]

    def batch(self, station: str, order: str | None) -> float | None:
        """The planned batch time of a lot of `order` started on the station (the event's operation
        is not used: it may still name the previous lot's)."""
        ops = self._ops(station, order, None)
        key = ("batch", id(ops))
        if key not in self._agreed:
            self._agreed[key] = _agreed([op.batch_time for op in ops])
        return self._agreed[key]

    def has_batches(self, station: str) -> bool:
        ops = (op for p in self.plant.products for op in p.routing if station in op.stations)
        return any(op.batch_time > 0 for op in ops)


def _agreed(values: list[float]) -> float | None:
    if not values:
        return None
    lo, hi = min(values), max(values)
    return lo if math.isclose(lo, hi, rel_tol=1e-9, abs_tol=1e-9) else None


def _books(cur: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int]]:
    """Order id -> (product, quantity) from the order books in the history (the latest stored
    book wins)."""
    rows = cur.execute(
        "SELECT r.order_id, arg_max(r.product, b.stored_at), arg_max(r.quantity, b.stored_at) "
        "FROM order_book_rows r JOIN order_books b ON b.hash = r.book GROUP BY r.order_id"
    ).fetchall()
    return {str(o): (str(p), int(q)) for o, p, q in rows}


def reattribute(units: pd.DataFrame, plant: Plant, quantities: dict[str, int]) -> pd.DataFrame:
    """Units of a station of k machines behind one CurrentOrder tag carry the order started last,
    whichever machine made them. With order quantities known (an order book), each lot started
    on such a station is open until it has made what its order still needs there; a unit is
    counted to the lot its label names while that lot is open, else to the oldest other open lot
    (the one running on another machine). Returns `units` with order_id corrected (operation
    then unknown, resolved from the order's routing); stations of one machine are left as they
    are, and so is everything when no quantities are known."""
    multi = {st.id for st in plant.stations if st.machines > 1}
    if not multi or not quantities or units.empty:
        return units
    out = units.copy()
    lots: dict[str, list[list[Any]]] = defaultdict(list)  # station -> open [order, units left]
    made: dict[tuple[str, str], int] = defaultdict(int)
    orders = out["order_id"].to_numpy(dtype=object).copy()
    operations = out["operation"].to_numpy(dtype=object).copy()
    stations = out["station"].to_numpy(dtype=object)
    kinds = out["kind"].to_numpy(dtype=object)
    quantity = out["quantity"].to_numpy()
    rows = np.flatnonzero(pd.Series(stations).isin(list(multi)).to_numpy() & pd.notna(orders))
    for i in rows:
        station, kind, order, qty = stations[i], kinds[i], orders[i], int(quantity[i])
        open_lots = lots[station]
        if kind == "order_started":
            need = quantities.get(order)
            left = math.inf if need is None else max(need - made[(station, order)], 1)
            open_lots.append([order, left])
            continue
        chosen = next((lot for lot in reversed(open_lots) if lot[0] == order and lot[1] > 0), None)
        if chosen is None:
            chosen = next((lot for lot in open_lots if lot[1] > 0 and math.isfinite(lot[1])), None)
        if chosen is None:
            made[(station, order)] += int(qty)
            continue
        chosen[1] -= qty
        made[(station, chosen[0])] += int(qty)
        if chosen[0] != order:
            orders[i], operations[i] = chosen[0], None
        lots[station] = [lot for lot in open_lots if lot[1] > 0]
    out["order_id"], out["operation"] = orders, operations
    return out


def actual_kpis(
    cur: duckdb.DuckDBPyConnection,
    plant: Plant,
    start: float | datetime | None = None,
    end: float | datetime | None = None,
    by: str = "station",
    kpis: KpiRegistry = KPIS,
) -> pd.DataFrame:
    """One row per station (`by='station'`) or per station and shift (`by='shift'`): the time
    elements, quantities, planned run time and KPIs described in the module docstring.

    Columns: station, shift ('' by station), shift_start, shift_end, machines, state_basis,
    recorded, stopped, pot, pdot, pbt, apt, aust, adet, adot, idle, aubt, produced (PQ), good
    (GQ), scrapped (SQ), gq, sq, pq, planned_run_time, batches, unknown_pri_units,
    unknown_state, not_measured, the ratios of `TimeElements.kpis()` (oee, availability,
    performance, quality, ...), every element KPI of `kpis`, and effectiveness (= performance).

    Raises:
        HistoryError: `by` is not 'station' or 'shift'.
    """
    if by not in BY:
        raise HistoryError(f"by must be 'station' or 'shift', got {by!r}")
    s, e = _window_bounds(cur, plant, start, end)
    windows = _windows(plant, s, e, by)
    src = _events(cur)
    cur.register("_pw_kwin", windows)
    try:
        seconds = _state_seconds(cur, src, s, e)
    finally:
        cur.unregister("_pw_kwin")
    measured = _measured(cur)
    per_machine = _per_machine(cur)
    books = _books(cur)
    multi = books and any(st.machines > 1 for st in plant.stations)
    units = cur.execute(
        f"SELECT time, station, kind, order_id, operation, quantity FROM {src} "
        "WHERE kind IN ('produced', 'scrapped', 'order_started') AND time >= $a AND time < $e "
        "ORDER BY time, seq",
        {"a": s - LOOKBACK if multi else s, "e": e},
    ).df()
    units = units.astype({c: object for c in ("station", "kind", "order_id", "operation")})
    seen = cur.execute(
        "SELECT order_id, station, operation, sum(quantity) FROM actual_events "
        "WHERE kind IN ('produced', 'scrapped') AND order_id IS NOT NULL AND operation IS NOT NULL "
        "GROUP BY ALL"
    ).df()
    ideal = IdealTimes(plant, {o: p for o, (p, _) in books.items()}, seen)
    units = reattribute(units, plant, {o: q for o, (_, q) in books.items()})
    units = units[units["time"] >= s]
    idx = _window_index(units, windows)
    totals = _totals(_grouped(units, idx), windows, ideal)
    _add_batches(units, idx, windows, ideal, totals)
    state_of = (
        {key: g for key, g in seconds.groupby(["station", "shift"], sort=False)} if len(seconds) else {}
    )
    nothing = {"good": 0, "scrap": 0, "planned": 0.0, "unknown": 0, "lots": 0}
    empty_states = seconds.iloc[:0]
    rows = [
        _row(
            plant,
            w,
            state_of.get((w.station, w.shift), empty_states),
            totals.get(i, nothing),
            ideal,
            measured,
            per_machine,
            kpis,
        )
        for i, w in zip(windows.index, windows.itertuples(index=False), strict=True)
    ]
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return add_timestamps(out, plant.epoch, ["shift_start", "shift_end"])


def _window_index(units: pd.DataFrame, windows: pd.DataFrame) -> np.ndarray:
    """For each event, the index of its station's window holding its time (-1: none)."""
    idx = np.full(len(units), -1)
    t_all = units["time"].to_numpy(dtype=float)
    st_all = units["station"].to_numpy(dtype=object)
    for station, w in windows.groupby("station", sort=False):
        mask = st_all == station
        starts, ends = w["s_start"].to_numpy(dtype=float), w["s_end"].to_numpy(dtype=float)
        order = np.argsort(starts)
        starts, ends, ids = starts[order], ends[order], w.index.to_numpy()[order]
        t = t_all[mask]
        j = np.searchsorted(starts, t, side="right") - 1
        ok = (j >= 0) & (t < ends[j.clip(0)])
        idx[np.flatnonzero(mask)[ok]] = ids[j[ok]]
    return idx


def _grouped(units: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
    """Unit and lot-start events summed per (window, kind, order, operation): `w` the window's
    index, `quantity` the units, `events` how many events (lot starts)."""
    keep = idx >= 0
    frame = units.loc[keep, ["kind", "order_id", "operation", "quantity"]].assign(w=idx[keep])
    frame["order_id"] = frame["order_id"].astype(object).where(frame["order_id"].notna(), None)
    frame["operation"] = frame["operation"].astype(object).where(frame["operation"].notna(), None)
    return (
        frame.groupby(["w", "kind", "order_id", "operation"], dropna=False, sort=False)
        .agg(quantity=("quantity", "sum"), events=("quantity", "size"))
        .reset_index()
    )


def _totals(groups: pd.DataFrame, windows: pd.DataFrame, ideal: IdealTimes) -> dict[int, dict[str, float]]:
    """Per window index: good and scrapped units, planned run time (PRI x units + batch time per
    lot start), units and lots without a known ideal time, lots started. Ideal times are
    resolved once per (station, possible products, operation), not per event."""
    if groups.empty:
        return {}
    g = groups.copy()
    g["station"] = windows["station"].to_numpy(dtype=object)[g["w"].to_numpy()]
    orders = pd.unique(g["order_id"].to_numpy(dtype=object))
    names = {o: ideal.names(_text(o)) for o in orders}
    g["names"] = [names[o] for o in g["order_id"].to_numpy(dtype=object)]
    start = (g["kind"] == "order_started").to_numpy()
    g.loc[start, "operation"] = None  # a lot start's operation may still be the previous lot's
    keys = g[["station", "names", "operation"]].drop_duplicates()
    times = {}
    for station, product_names, operation, is_start in zip(
        keys["station"], keys["names"], keys["operation"], keys["operation"].isna(), strict=True
    ):
        ops = ideal.ops_of(str(station), product_names, _text(operation))
        times[(station, product_names, operation, "batch")] = _agreed([op.batch_time for op in ops])
        if not is_start or _text(operation) is None:
            times[(station, product_names, operation, "pri")] = _agreed([op.time.mean for op in ops])
    kind = np.where(start, "batch", "pri")
    cols = [g[c].to_numpy(dtype=object) for c in ("station", "names", "operation")]
    ideal_time = [times.get((st, n, op, k)) for st, n, op, k in zip(*cols, kind, strict=True)]
    g["ideal"] = pd.array(ideal_time, dtype="Float64").astype(float)
    g["n"] = np.where(start, 0, g["quantity"])  # lot starts: batch times in _add_batches
    g["known"] = g["ideal"].notna() | start
    g["planned"] = np.where(g["known"], g["ideal"].fillna(0.0) * g["n"], 0.0)
    g["unknown"] = np.where(g["known"], 0, g["n"])
    g["good"] = np.where(g["kind"] == "produced", g["quantity"], 0)
    g["scrap"] = np.where(g["kind"] == "scrapped", g["quantity"], 0)
    g["lots"] = np.where(start, g["events"], 0)
    sums = g.groupby("w")[["good", "scrap", "planned", "unknown", "lots"]].sum()
    return {int(w): row for w, row in sums.to_dict(orient="index").items()}


def _add_batches(
    units: pd.DataFrame,
    idx: np.ndarray,
    windows: pd.DataFrame,
    ideal: IdealTimes,
    totals: dict[int, dict[str, float]],
) -> None:
    """Add each lot start's planned batch time to the windows it runs in: from the start, what
    does not fit before its window ends goes to the station's next window (the next shift, where
    the batch goes on after a shift change or the night)."""
    starts = np.flatnonzero((units["kind"] == "order_started").to_numpy() & (idx >= 0))
    if not len(starts):
        return
    following: dict[int, int] = {}
    for _, w in windows.groupby("station", sort=False):
        ordered = w.sort_values("s_start").index.to_numpy()
        following.update(zip(ordered[:-1].tolist(), ordered[1:].tolist(), strict=True))
    t_all = units["time"].to_numpy(dtype=float)
    stations = units["station"].to_numpy(dtype=object)
    orders = units["order_id"].to_numpy(dtype=object)
    ends = windows["s_end"].to_numpy(dtype=float)
    blank = {"good": 0, "scrap": 0, "planned": 0.0, "unknown": 0, "lots": 0}
    for i in starts:
        w = int(idx[i])
        batch = ideal.batch(str(stations[i]), _text(orders[i]))
        if batch is None:
            totals.setdefault(w, dict(blank))["unknown"] += 1
            continue
        left, t = batch, t_all[i]
        while left > 0 and w is not None:
            part = min(left, max(ends[w] - t, 0.0))
            totals.setdefault(w, dict(blank))["planned"] += part
            left -= part
            w = following.get(w)
            t = -math.inf


def _row(
    plant: Plant,
    w: Any,
    mine: pd.DataFrame,
    totals: dict[str, float],
    ideal: IdealTimes,
    measured: dict[str, set[str]],
    per_machine: set[str],
    kpis: KpiRegistry,
) -> dict[str, Any]:
    station = str(w.station)
    tags = measured.get(station, set())
    k = 1 if station in per_machine else plant.station_map[station].machines
    by_state = {
        str(st): float(d) * k
        for st, d in zip(mine["state"].to_numpy(dtype=object), mine["d"].to_numpy(dtype=float), strict=True)
    }
    ms = MachineState
    known = {m.value for m in ms}
    el_times = {
        "apt": by_state.get(ms.EXECUTE.value, 0.0),
        "aust": by_state.get(ms.SETUP.value, 0.0),
        "idle": by_state.get(ms.IDLE.value, 0.0),
        "adet": sum(by_state.get(x.value, 0.0) for x in DELAY),
        "adot": by_state.get(ms.ABORTED.value, 0.0),
        "pdot": by_state.get(ms.MAINTENANCE.value, 0.0),
        "stopped": by_state.get(ms.STOPPED.value, 0.0),
        "starved": by_state.get(ms.STARVED.value, 0.0),
    }
    recorded = sum(by_state.values())
    unknown_state = sum(d for st, d in by_state.items() if st not in known)

    good, scrap = int(totals["good"]), int(totals["scrap"])
    planned, unknown_pri = float(totals["planned"]), int(totals["unknown"])
    el = TimeElements(**el_times, gq=good, sq=scrap, planned_time=planned)
    values: dict[str, Any] = el.kpis()
    values.update(kpis.station_kpis(el))

    reasons = []
    if "state" not in tags:
        reasons.append("no State tag: time elements")
        for name in _TIME_BASED:
            values[name] = math.nan
    if "good_count" not in tags:
        reasons.append("no GoodCount tag: produced units")
        for name in _NEEDS_GOOD:
            values[name] = math.nan
    if "reject_count" not in tags:
        reasons.append("no RejectCount tag: scrapped units")
        for name in _NEEDS_REJECT:
            values[name] = math.nan
    if unknown_pri:
        reasons.append(f"no ideal time for {unknown_pri} units or lots: effectiveness")
        for name in _NEEDS_PRI:
            values[name] = math.nan
    elif good + scrap > 0 and ideal.has_batches(station) and "current_order" not in tags:
        reasons.append("no CurrentOrder tag: lot starts (batch times)")
        for name in _NEEDS_PRI:
            values[name] = math.nan
    values["effectiveness"] = values["performance"]
    counted = "good_count" in tags
    return {
        "station": station,
        "shift": w.shift,
        "shift_start": float(w.s_start),
        "shift_end": float(w.s_end),
        "machines": plant.station_map[station].machines,
        "state_basis": ("machine" if station in per_machine else "station") if "state" in tags else None,
        "recorded": recorded,
        **values,
        "stopped": el.stopped,
        "produced": float(el.pq) if counted else math.nan,
        "good": float(good) if counted else math.nan,
        "scrapped": float(scrap) if "reject_count" in tags else math.nan,
        "planned_run_time": planned if not unknown_pri else math.nan,
        "batches": int(totals["lots"]),
        "unknown_pri_units": unknown_pri,
        "unknown_state": unknown_state,
        "not_measured": "; ".join(reasons),
    }


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)
