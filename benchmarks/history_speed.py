"""History store speed: bulk inserts of actual events (rows/s), then the plan-vs-actual
aggregation over 10M events (seconds).

    .venv/bin/python benchmarks/history_speed.py            # 1M inserts, 10M-event aggregation
    .venv/bin/python benchmarks/history_speed.py --quick    # 100k / 1M, a smoke run

Targets (issue 5): at least 500k rows/s inserted, and the aggregation under 1 s on the 2-core
machine. Events are synthetic but shaped like the demo plant's floor: its 11 stations, its
products and routings, 2000 orders, 30 days, 65 % produced, 3 % scrapped, 30 % state changes.
The plan has one operation per (order, routing step); the simulation 30 replications of it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from twin.history import HistoryStore
from twin.loader import load_plant
from twin.orders import Order
from twin.plant import Plant
from twin.samples import sample_path
from twin.schedule import Schedule, ScheduledOperation

DAYS = 30
ORDERS = 2000
KINDS = np.array(["produced", "scrapped", "state", "order_started", "order_finished"])
KIND_P = [0.65, 0.03, 0.30, 0.01, 0.01]
STATES = np.array(["Execute", "Setup", "Idle", "Starved", "Blocked", "Aborted", "Stopped"])


def _dict_col(indices: np.ndarray, values: list[str] | np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype("int32")), pa.array(list(values))).cast(
        pa.string()
    )


def events_table(plant: Plant, n: int, seed: int, t0: float = 0.0) -> pa.Table:
    """n synthetic floor events in time order, as an Arrow table (columns of add_actual_events)."""
    rng = np.random.default_rng(seed)
    stations = [s.id for s in plant.stations]
    ops = sorted({op.id for p in plant.products for op in p.routing})
    kind = rng.choice(len(KINDS), n, p=KIND_P)
    is_state = kind == 2
    state_idx = rng.integers(0, len(STATES), n)
    return pa.table(
        {
            "time": np.sort(rng.uniform(t0, t0 + DAYS * 86400.0, n)),
            "station": _dict_col(rng.integers(0, len(stations), n), stations),
            "machine": pa.array(rng.integers(0, 2, n).astype("int32")),
            "kind": _dict_col(kind, KINDS),
            "order_id": _dict_col(rng.integers(0, ORDERS, n), [f"O{i:05d}" for i in range(ORDERS)]),
            "operation": _dict_col(rng.integers(0, len(ops), n), ops),
            "quantity": pa.array(np.where(is_state, 0, 1).astype("int32")),
            "state": pa.array(np.where(is_state, STATES[state_idx], None), pa.string()),
        }
    )


def orders_and_plan(plant: Plant, seed: int) -> tuple[list[Order], Schedule]:
    """2000 orders over 30 days and a plan with one operation per routing step."""
    rng = np.random.default_rng(seed)
    products = plant.products
    orders, ops = [], []
    for i in range(ORDERS):
        product = products[i % len(products)]
        release = float(rng.uniform(0, DAYS * 86400.0 - 86400.0))
        orders.append(Order(f"O{i:05d}", product.id, 5, release, release + 2 * 86400.0))
        t = release
        for k, op in enumerate(product.routing):
            dur = 5 * op.time.mean + op.batch_time
            ops.append(ScheduledOperation(f"O{i:05d}", k, op.id, op.stations[0], 0, t, t + dur, 0.0, 5))
            t += dur + 600.0
    return orders, Schedule(operations=tuple(ops), plant_hash=plant.content_hash(), created_by="bench")


def sim_frames(schedule: Schedule, reps: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The plan replayed `reps` times with noise on the end times."""
    rng = np.random.default_rng(seed)
    base = pd.DataFrame([o.__dict__ for o in schedule.operations])
    frames = []
    for r in range(reps):
        f = base.copy()
        f["end"] = f["end"] + rng.exponential(1800.0, len(f))
        f.insert(0, "replication", r)
        frames.append(f)
    ops = pd.concat(frames, ignore_index=True)
    ops["good"] = ops["quantity"]
    ops["scrap"] = 0
    empty_orders = pd.DataFrame(
        {c: [] for c in ("replication", "order_id", "product", "quantity", "release", "due", "completion",
                         "lateness", "tardiness", "on_time")}
    )  # fmt: skip
    empty_states = pd.DataFrame(
        {c: [] for c in ("replication", "station", "machine", "state", "start", "end")}
    )
    return ops, empty_orders, empty_states


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best.append(time.perf_counter() - t)
    return statistics.median(best), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inserts", type=int, default=1_000_000, help="events for the insert benchmark")
    parser.add_argument("--total", type=int, default=10_000_000, help="events for the aggregation benchmark")
    parser.add_argument("--quick", action="store_true", help="100k inserts, 1M events")
    parser.add_argument("--dir", default=None, help="folder for the DuckDB files (default: a temporary one)")
    args = parser.parse_args()
    if args.quick:
        args.inserts, args.total = 100_000, 1_000_000
    plant, _ = load_plant(sample_path("demo"))  # type: ignore[arg-type]
    tmp = tempfile.TemporaryDirectory() if args.dir is None else None
    folder = Path(args.dir or tmp.name)  # type: ignore[union-attr]
    print(f"history_speed: cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at start")
    rows: list[tuple[str, str, str]] = []

    events = events_table(plant, args.inserts, seed=1)
    frame = events.to_pandas()
    for label, batch, source in (
        ("one DataFrame", args.inserts, frame),
        ("DataFrame batches of 10,000", 10_000, frame),
        ("DataFrame batches of 1,000", 1_000, frame),
        ("Arrow batches of 10,000", 10_000, events),
    ):
        with HistoryStore(folder / f"insert-{batch}-{type(source).__name__}.duckdb") as store:

            def run(store=store, batch=batch, source=source) -> None:
                for i in range(0, args.inserts, batch):
                    part = (
                        source.slice(i, batch) if isinstance(source, pa.Table) else source.iloc[i : i + batch]
                    )
                    store.add_actual_events(part)

            seconds, _ = timed(run)
        rows.append((f"insert {args.inserts:,} events, {label}", f"{args.inserts / seconds:,.0f} rows/s",
                     "target >= 500,000 rows/s"))  # fmt: skip

    with HistoryStore(folder / "aggregate.duckdb") as store:
        orders, schedule = orders_and_plan(plant, seed=2)
        plan = store.record_run("plan", started_by="bench", plant=plant, orders=orders)
        store.add_schedule(plan, schedule)
        ops, ords, states = sim_frames(schedule, 30, seed=3)
        sim = store.record_run("simulation", started_by="bench", plant=plant, orders=orders, parent=plan)
        store.add_simulation(sim, operations=ops, orders=ords, states=states)
        chunk = 1_000_000
        t = time.perf_counter()
        for k in range(0, args.total, chunk):
            store.add_actual_events(events_table(plant, min(chunk, args.total - k), seed=10 + k // chunk))
        fill = time.perf_counter() - t
        rows.append((f"fill to {args.total:,} events (Arrow, 1M per insert, incl. generation)",
                     f"{args.total / fill:,.0f} rows/s", ""))  # fmt: skip
        window = (0.0, DAYS * 86400.0)
        cases = [
            ("plan vs sim vs actual, by station, hourly", "station", 3600.0),
            ("plan vs sim vs actual, by product, hourly", "product", 3600.0),
            ("plan vs sim vs actual, by station, per shift", "station", "shift"),
        ]
        for label, by, bucket in cases:
            cold, result = timed(
                lambda by=by, bucket=bucket: store.plan_vs_actual(plan, sim, *window, by, bucket)
            )
            warm, _ = timed(
                lambda by=by, bucket=bucket: store.plan_vs_actual(plan, sim, *window, by, bucket), 5
            )
            target = "target < 1 s" if by == "station" and bucket == 3600.0 else ""
            rows.append((f"{label} over {args.total:,} events ({len(result)} rows out)",  # type: ignore[arg-type]
                         f"{warm:.3f} s (first {cold:.3f} s)", target))  # fmt: skip
        week, _ = timed(lambda: store.oee_per_shift(0.0, 7 * 86400.0), 3)
        rows.append(("OEE per station per shift, one week", f"{week:.3f} s", ""))
        size = os.path.getsize(folder / "aggregate.duckdb") / 2**20
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>32}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>32}  {note}")
    print(
        f"file size with {args.total:,} events: {size:,.0f} MiB; load average {os.getloadavg()[0]:.2f} at end"
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
