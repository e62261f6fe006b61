"""The analytical queries of the history store; aggregation runs in DuckDB, and only the
(small) result comes back as a DataFrame.

OEE and the other actual-side KPIs are computed in `twin.history.kpis` (time elements per
state as in twin/states.py, ratios from twin.kpi on summed elements, never averaged).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from twin.errors import HistoryError
from twin.history import buckets
from twin.history.codec import add_timestamps, loads, plant_seconds
from twin.history.codec import one as _one
from twin.plant import Plant
from twin.stats import wilson_interval


class RunSource(Protocol):
    """What the queries need of the store besides a cursor: run ids and the plants they used
    (`HistoryReader` provides it; the protocol keeps this module from importing the reader)."""

    def resolve_run(self, ref: str) -> str: ...

    def get_plant(self, plant_hash: str) -> Plant: ...

    def latest_plant(self) -> Plant | None: ...


_PROD_MAP = """
prod_map AS (
    SELECT order_id, arg_min(product, prio) AS product FROM (
        SELECT r.order_id, r.product, 0 AS prio FROM order_book_rows r
            JOIN runs ON r.book = runs.orders_hash WHERE runs.id IN ($plan, $sim)
        UNION ALL SELECT order_id, product, 1 FROM sim_orders WHERE run_id = $sim
        UNION ALL SELECT order_id, product, 2 FROM order_book_rows
    ) GROUP BY order_id
)"""


def _run_plant(store: RunSource, cur: duckdb.DuckDBPyConnection, runs: list[str | None]) -> Plant | None:
    for run in runs:
        if run:
            row = _one(cur.execute("SELECT plant_hash FROM runs WHERE id = ?", [run]))
            if row and row[0]:
                return store.get_plant(row[0])
    return store.latest_plant()


def _register(cur: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    cur.register(name, frame)


def plan_vs_actual(
    store: RunSource,
    cur: duckdb.DuckDBPyConnection,
    plan_run: str | None,
    sim_run: str | None,
    start: float | datetime | None,
    end: float | datetime | None,
    by: str,
    bucket: float | str,
    plant: Plant | None,
) -> pd.DataFrame:
    """Output per key (station or product) and time bucket, from three sources:

    - planned: units the plan run's schedule finishes (per station: every operation's quantity at
      its end; per product: the operations that are the last of the product's routing, or without
      a plant the last operation the plan holds for each order);
    - simulated: good units per replication, the same way, then median, P10 and P90 over the
      replications (zero where a replication made nothing in a bucket);
    - actual: 'produced' events (per product: those of the product's last routing operation, or
      'order_finished' events when no plant is known).
    Cumulative columns accumulate from the window start (per replication before the quantiles).
    `bucket` is a width in seconds (aligned to the plant epoch) or 'shift' (the plant's main
    calendar; the gaps between shifts are buckets labelled 'off').
    """
    if by not in ("station", "product"):
        raise HistoryError(f"by must be 'station' or 'product', got {by!r}")
    plan_run = store.resolve_run(plan_run) if plan_run else None
    sim_run = store.resolve_run(sim_run) if sim_run else None
    plant = plant or _run_plant(store, cur, [plan_run, sim_run])
    epoch = plant.epoch if plant is not None else None
    args: dict[str, Any] = {"plan": plan_run or "", "sim": sim_run or ""}
    s = plant_seconds(start, epoch, -math.inf)
    e = plant_seconds(end, epoch, math.inf)
    if not (math.isfinite(s) and math.isfinite(e)):
        lo, hi = _one(
            cur.execute(
                'SELECT min(t), max(t) FROM (SELECT "end" AS t FROM schedule_operations WHERE run_id = $plan '
                'UNION ALL SELECT "end" FROM sim_operations WHERE run_id = $sim '
                "UNION ALL SELECT time FROM actual_events WHERE kind IN ('produced', 'order_finished'))",
                args,
            )
        )
        if lo is None:
            lo, hi = 0.0, 0.0
        s = s if math.isfinite(s) else float(lo)
        e = e if math.isfinite(e) else math.nextafter(float(hi), math.inf)
    if e <= s:
        raise HistoryError(f"empty time window [{s:g}, {e:g}) s")
    args.update(s=s, e=e)
    if bucket == "shift":
        if plant is None:
            raise HistoryError("bucket='shift' needs a plant (its calendar); none is recorded")
        table = buckets.plant_shift_buckets(plant, s, e)
        minutes = buckets.minute_lookup(table, s, e)
        if minutes is not None:  # a hash lookup per event: 4x faster than the as-of join
            _register(cur, "_pw_minutes", minutes)
            bucket_of, join = (
                "mm.bucket",
                "JOIN _pw_minutes mm ON mm.minute = CAST(floor(src.t / 60.0) AS BIGINT)",
            )
        else:
            bucket_of, join = "b.bucket", "ASOF JOIN _pw_buckets b ON src.t >= b.b_start"
    else:
        try:
            width = float(bucket)
        except (TypeError, ValueError):
            raise HistoryError(f"bucket must be seconds or 'shift', got {bucket!r}") from None
        table = buckets.fixed_buckets(s, e, width)
        bucket_of, join = f"CAST(floor(src.t / {width!r}) AS BIGINT)", ""
    _register(cur, "_pw_buckets", table)

    if plant is not None:
        order = [st.id for st in plant.stations] if by == "station" else [p.id for p in plant.products]
        last_ops = pd.DataFrame(
            {
                "product": [p.id for p in plant.products],
                "operation": [p.routing[-1].id for p in plant.products],
            }
        )
    else:
        order, last_ops = (
            [],
            pd.DataFrame({"product": pd.Series(dtype=str), "operation": pd.Series(dtype=str)}),
        )
    _register(cur, "_pw_keys", pd.DataFrame({"key": pd.Series(order, dtype=str), "ord": range(len(order))}))
    _register(cur, "_pw_last", last_ops)

    if by == "station":
        planned = (
            'SELECT station AS key, "end" AS t, quantity AS q FROM schedule_operations WHERE run_id = $plan'
        )
        simulated = (
            'SELECT replication AS rep, station AS key, "end" AS t, good AS q '
            "FROM sim_operations WHERE run_id = $sim"
        )
        actual = "SELECT station AS key, time AS t, quantity AS q FROM actual_events WHERE kind = 'produced'"
    else:
        if plant is not None:  # the last operation of the product's routing
            last_s = "JOIN _pw_last l ON l.product = m.product AND l.operation = s.operation"
            last_o = "JOIN _pw_last l ON l.product = m.product AND l.operation = o.operation"
            qualify_s = qualify_o = ""
        else:  # the last operation the plan (or replication) holds for the order
            last_s = last_o = ""
            qualify_s = "QUALIFY s.op_index = max(s.op_index) OVER (PARTITION BY s.order_id)"
            qualify_o = "QUALIFY o.op_index = max(o.op_index) OVER (PARTITION BY o.replication, o.order_id)"
        planned = (
            'SELECT m.product AS key, s."end" AS t, s.quantity AS q FROM schedule_operations s '
            f"JOIN prod_map m USING (order_id) {last_s} WHERE s.run_id = $plan {qualify_s}"
        )
        simulated = (
            'SELECT o.replication AS rep, m.product AS key, o."end" AS t, o.good AS q FROM sim_operations o '
            f"JOIN prod_map m USING (order_id) {last_o} WHERE o.run_id = $sim {qualify_o}"
        )
        if plant is not None:
            actual = (
                "SELECT m.product AS key, a.time AS t, a.quantity AS q FROM actual_events a "
                "JOIN prod_map m USING (order_id) JOIN _pw_last l ON l.product = m.product "
                "AND l.operation = a.operation WHERE a.kind = 'produced'"
            )
        else:
            actual = (
                "SELECT m.product AS key, a.time AS t, a.quantity AS q FROM actual_events a "
                "JOIN prod_map m USING (order_id) WHERE a.kind = 'order_finished'"
            )

    def bucketed(src: str, extra: str = "") -> str:
        return (
            f"SELECT {extra}src.key, {bucket_of} AS bucket, CAST(sum(src.q) AS DOUBLE) AS q "
            f"FROM ({src}) src {join} WHERE src.t >= $s AND src.t < $e GROUP BY ALL"
        )

    sim_query = (
        f"WITH {_PROD_MAP}, sim AS ({bucketed(simulated, 'src.rep, ')}) SELECT rep, key, bucket, q FROM sim"
    )
    reps_query = (
        "SELECT DISTINCT replication FROM sim_orders WHERE run_id = $sim "
        "UNION SELECT DISTINCT replication FROM sim_operations WHERE run_id = $sim ORDER BY 1"
    )
    query = f"""
    WITH {_PROD_MAP},
    planned AS ({bucketed(planned)}),
    actual AS ({bucketed(actual)}),
    keys AS (
        SELECT key, min(ord) AS ord FROM (
            SELECT key, ord FROM _pw_keys
            UNION ALL SELECT key, NULL FROM _pw_simkeys
            UNION ALL SELECT DISTINCT key, NULL FROM planned
            UNION ALL SELECT DISTINCT key, NULL FROM actual
        ) WHERE key IS NOT NULL GROUP BY key
    )
    SELECT k.key AS {by}, b.bucket, b.b_start AS bucket_start, b.b_end AS bucket_end, b.label,
           coalesce(p.q, 0) AS planned, coalesce(a.q, 0) AS actual,
           sum(coalesce(p.q, 0)) OVER w AS planned_cum, sum(coalesce(a.q, 0)) OVER w AS actual_cum
    FROM keys k CROSS JOIN _pw_buckets b
    LEFT JOIN planned p ON p.key = k.key AND p.bucket = b.bucket
    LEFT JOIN actual a ON a.key = k.key AND a.bucket = b.bucket
    WINDOW w AS (PARTITION BY k.key ORDER BY b.bucket ROWS UNBOUNDED PRECEDING)
    ORDER BY k.ord NULLS LAST, k.key, b.bucket
    """
    try:
        if sim_run is not None:
            sparse = cur.sql(sim_query, params=args).to_arrow_table()
            reps = [r[0] for r in cur.execute(reps_query, {"sim": sim_run}).fetchall()]
        else:
            sparse, reps = None, []
        sim_keys = pc.unique(sparse.column("key")) if sparse is not None else pa.array([], pa.string())
        _register(cur, "_pw_simkeys", pa.table({"key": sim_keys.cast(pa.string())}))
        out = cur.execute(query, args).df()
    finally:
        for name in ("_pw_buckets", "_pw_keys", "_pw_last", "_pw_simkeys", "_pw_minutes"):
            cur.unregister(name)
    _sim_quantiles(out, by, sparse, reps, table["bucket"])
    if plan_run is None:
        out["planned"] = np.nan
        out["planned_cum"] = np.nan
    out["bucket_start"] = out["bucket_start"].clip(lower=s)
    out["bucket_end"] = out["bucket_end"].clip(upper=e)
    out = out[[by, "bucket", "bucket_start", "bucket_end", "label", "planned", *_SIM[:3], "actual",
               "planned_cum", *_SIM[3:], "actual_cum"]]  # fmt: skip
    return add_timestamps(out, epoch, ["bucket_start", "bucket_end"])


MAX_SIM_CELLS = 20_000_000
_SIM = ("sim_median", "sim_p10", "sim_p90", "sim_cum_median", "sim_cum_p10", "sim_cum_p90")


def _sim_quantiles(
    out: pd.DataFrame, by: str, sparse: pa.Table | None, reps: list[int], bucket_ids: pd.Series
) -> None:
    """Median, P10 and P90 over the replications of the per-bucket and cumulative output.

    DuckDB has grouped the simulated rows into (replication, key, bucket) sums; the order
    statistics run here on the dense replication x key x bucket grid (zero where a replication
    made nothing), which is small: numpy's linear quantile is DuckDB's quantile_cont, at a
    fraction of its cost for thousands of tiny groups. `out` is the full key x bucket grid,
    key-major, which fixes where each cell goes.
    """
    names = ("sim_p10", "sim_median", "sim_p90")
    cum_names = ("sim_cum_p10", "sim_cum_median", "sim_cum_p90")
    n_buckets = len(bucket_ids)
    if sparse is None or not reps or out.empty:
        for name in (*names, *cum_names):
            out[name] = np.nan
        return
    n_keys = len(out) // n_buckets
    assert n_keys * n_buckets == len(out)
    cells = len(reps) * n_keys * n_buckets
    if cells > MAX_SIM_CELLS:
        raise HistoryError(
            f"{len(reps)} replications x {n_keys} keys x {n_buckets} buckets: use a wider bucket"
        )
    grid = np.zeros((len(reps), n_keys, n_buckets))
    if sparse.num_rows:
        keys = pa.array(out[by].to_numpy()[::n_buckets].tolist(), pa.string())
        key_i = pc.index_in(sparse.column("key"), value_set=keys).to_numpy(zero_copy_only=False)
        rep_i = np.searchsorted(np.asarray(reps), sparse.column("rep").to_numpy())
        bucket_i = sparse.column("bucket").to_numpy() - int(bucket_ids.min())
        grid[rep_i, key_i.astype(int), bucket_i] = sparse.column("q").to_numpy()
    flat = (3, n_keys * n_buckets)
    qs = np.quantile(grid, [0.1, 0.5, 0.9], axis=0).reshape(flat)
    cqs = np.quantile(grid.cumsum(axis=2), [0.1, 0.5, 0.9], axis=0).reshape(flat)
    for j, (name, cum_name) in enumerate(zip(names, cum_names, strict=True)):
        out[name] = qs[j]
        out[cum_name] = cqs[j]


def oee_per_shift(
    store: RunSource,
    cur: duckdb.DuckDBPyConnection,
    start: float | datetime | None,
    end: float | datetime | None,
    plant: Plant | None,
) -> pd.DataFrame:
    """Per station and shift: ISO 22400 time elements, quantities and KPIs from the actual
    events, computed by `twin.history.kpis.actual_kpis` (parallel machines, batch times, ties,
    ideal times from the plant file), ordered by shift start and then plant station order.
    """
    from twin.history.kpis import actual_kpis

    plant = plant or store.latest_plant()
    if plant is None:
        raise HistoryError("OEE per shift needs a plant (its calendars and unit times); none is recorded")
    out = actual_kpis(cur, plant, start, end, by="shift")
    if out.empty:
        return out
    order = {st.id: i for i, st in enumerate(plant.stations)}
    out = out.sort_values(
        ["shift_start", "station"], key=lambda c: c.map(order) if c.name == "station" else c
    )
    return out.reset_index(drop=True)


def _midnight_offset(epoch: datetime) -> float:
    """Seconds from local midnight to the epoch (days are counted in the epoch's zone)."""
    return epoch.hour * 3600.0 + epoch.minute * 60.0 + epoch.second + epoch.microsecond / 1e6


def on_time_per_day(
    store: RunSource,
    cur: duckdb.DuckDBPyConnection,
    start: float | datetime | None,
    end: float | datetime | None,
    run: str | None,
    plant: Plant | None,
) -> pd.DataFrame:
    """Orders finished per local day (the plant epoch's zone) and the share on time, with a
    Wilson 95 % interval.

    Actuals (run=None): each order's first 'order_finished' event against its due date from the
    most recently stored order book holding it (orders in no book count as unknown_due and are
    left out of the rate). A simulation run: its completed orders pooled over replications;
    `orders` is then the mean per replication.
    """
    run = store.resolve_run(run) if run else None
    plant = plant or _run_plant(store, cur, [run])
    if plant is None:
        raise HistoryError("on-time per day needs a plant (its epoch and time zone); none is recorded")
    args = {
        "s": plant_seconds(start, plant.epoch, -1e300),
        "e": plant_seconds(end, plant.epoch, 1e300),
        "tod": _midnight_offset(plant.epoch),
    }
    if run is None:
        query = """
        WITH due_map AS (
            SELECT r.order_id, arg_max(r.due, b.stored_at) AS due, true AS known
            FROM order_book_rows r JOIN order_books b ON b.hash = r.book GROUP BY r.order_id
        ),
        fin AS (
            SELECT order_id, min(time) AS t FROM actual_events
            WHERE kind = 'order_finished' GROUP BY order_id
        )
        SELECT CAST(floor((f.t + $tod) / 86400) AS BIGINT) AS day,
               CAST(count(*) FILTER (WHERE d.known) AS DOUBLE) AS orders,
               count(*) FILTER (WHERE d.known AND (d.due IS NULL OR f.t <= d.due)) AS on_time,
               count(*) FILTER (WHERE d.known IS NULL) AS unknown_due, 1 AS replications
        FROM fin f LEFT JOIN due_map d USING (order_id)
        WHERE f.t >= $s AND f.t < $e GROUP BY day ORDER BY day
        """
    else:
        args["run"] = run
        query = """
        WITH n AS (SELECT count(DISTINCT replication) AS reps FROM sim_orders WHERE run_id = $run)
        SELECT CAST(floor((completion + $tod) / 86400) AS BIGINT) AS day,
               count(*) / any_value(n.reps) AS orders,
               count(*) FILTER (WHERE on_time) AS on_time, 0 AS unknown_due,
               any_value(n.reps) AS replications
        FROM sim_orders, n
        WHERE run_id = $run AND completion IS NOT NULL AND completion >= $s AND completion < $e
        GROUP BY day ORDER BY day
        """
    out = cur.execute(query, args).df()
    local_day0 = plant.epoch.date()
    out["date"] = [local_day0 + timedelta(days=int(d)) for d in out["day"]]
    pooled = (out["orders"] * out["replications"]).round().astype(int)
    out["on_time_rate"] = np.where(pooled > 0, out["on_time"] / pooled.where(pooled > 0, 1), np.nan)
    cis = [wilson_interval(int(k), int(n)) for k, n in zip(out["on_time"], pooled, strict=True)]
    out["ci_low"] = [c[0] if n > 0 else np.nan for c, n in zip(cis, pooled, strict=True)]
    out["ci_high"] = [c[1] if n > 0 else np.nan for c, n in zip(cis, pooled, strict=True)]
    return out[
        [
            "date",
            "day",
            "orders",
            "on_time",
            "on_time_rate",
            "ci_low",
            "ci_high",
            "unknown_due",
            "replications",
        ]
    ]


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, int | float):  # bool is an int
        out[prefix] = float(value)


def _run_kpis(cur: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Every number known about a run: its KPI dict (flattened), its estimates, and KPIs derived
    in SQL from its schedule, simulated orders and verdict."""
    flat: dict[str, float] = {}
    _flatten("", loads(_one(cur.execute("SELECT kpis FROM runs WHERE id = ?", [run_id]))[0]), flat)
    rows: dict[str, tuple[float, float, float]] = {k: (v, np.nan, np.nan) for k, v in flat.items()}
    for name, mean, low, high in cur.execute(
        "SELECT name, mean, low, high FROM run_kpis WHERE run_id = ?", [run_id]
    ).fetchall():
        rows[name] = (mean, low, high)
    derived = cur.execute(
        """
        SELECT 'schedule.makespan', max("end") FROM schedule_operations WHERE run_id = $r
        UNION ALL SELECT 'schedule.total_setup', sum(setup) FROM schedule_operations WHERE run_id = $r
        UNION ALL SELECT 'schedule.operations', count(*) FROM schedule_operations WHERE run_id = $r
        UNION ALL SELECT 'sim.on_time_rate', avg(CAST(on_time AS DOUBLE)) FROM sim_orders WHERE run_id = $r
        UNION ALL SELECT 'sim.mean_tardiness', avg(tardiness) FROM sim_orders WHERE run_id = $r
        UNION ALL SELECT 'sim.mean_completion', avg(completion) FROM sim_orders WHERE run_id = $r
        UNION ALL SELECT 'verdict.accepted', CAST(any_value(accepted) AS DOUBLE)
            FROM verdicts WHERE run_id = $r
        UNION ALL SELECT 'verdict.min_on_time_probability', min(on_time_probability)
            FROM verdict_orders WHERE run_id = $r
        UNION ALL SELECT 'verdict.mean_on_time_probability', avg(on_time_probability)
            FROM verdict_orders WHERE run_id = $r
        """,
        {"r": run_id},
    ).fetchall()
    for name, value in derived:
        if value is not None and not (name == "schedule.operations" and value == 0) and name not in rows:
            rows[name] = (float(value), np.nan, np.nan)
    return pd.DataFrame([(k, *v) for k, v in rows.items()], columns=["kpi", "value", "low", "high"]).astype(
        {"kpi": str, "value": float, "low": float, "high": float}
    )


def compare_runs(store: RunSource, cur: duckdb.DuckDBPyConnection, a: str, b: str) -> pd.DataFrame:
    """KPIs of runs a and b side by side: a, b, difference = b - a, relative = difference / |a|,
    and each side's confidence interval where the run recorded one."""
    left = _run_kpis(cur, a).set_index("kpi")
    right = _run_kpis(cur, b).set_index("kpi")
    out = left.join(right, how="outer", lsuffix="_a", rsuffix="_b").reset_index()
    out = out.rename(columns={"value_a": "a", "value_b": "b"})
    out["difference"] = out["b"] - out["a"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["relative"] = np.where(out["a"].abs() > 0, out["difference"] / out["a"].abs(), np.nan)
    out = out.sort_values("kpi").reset_index(drop=True)
    return out[["kpi", "a", "b", "difference", "relative", "low_a", "high_a", "low_b", "high_b"]]
