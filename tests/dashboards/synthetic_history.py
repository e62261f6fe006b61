"""A synthetic, self-consistent history for the dashboard's tests, screenshots and benchmark.

It writes through the public `HistoryStore` API what the real services would: a plan (a
greedy list schedule, not an optimised one), a noisy "simulation" of it, the verdict on it,
floor events (state changes, parts produced and scrapped) up to a `now`, and process values.
Every number comes from `random.Random(seed)` / `numpy.random.default_rng(seed)`. This is test
data, not a simulator: the real one is `sim`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from twin.history import HistoryStore
from twin.history.verdicts import record_verdict
from twin.orders import Order, book_hash
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation
from twin.stats import wilson_interval
from twin.tagnames import process_value_tag
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict

WEEK = 7 * 86400.0


def greedy_schedule(
    plant: Plant, orders: Sequence[Order], *, created_by: str = "synthetic greedy"
) -> Schedule:
    """Each order in due order, each operation on the eligible machine free first (24/7, no setups)."""
    free: dict[tuple[str, int], float] = {}
    machines = {s.id: s.machines for s in plant.stations}
    products = {p.id: p for p in plant.products}
    ops: list[ScheduledOperation] = []
    for order in sorted(orders, key=lambda o: (o.due, o.release, o.id)):
        ready = order.release
        for k, op in enumerate(products[order.product].routing):
            slots = [(st, m) for st in op.stations for m in range(machines[st])]
            station, m = min(slots, key=lambda sm: max(free.get(sm, 0.0), ready))
            start = max(free.get((station, m), 0.0), ready)
            end = start + op.batch_time + op.time.mean * order.quantity
            ops.append(ScheduledOperation(order.id, k, op.id, station, m, start, end, 0.0, order.quantity))
            free[(station, m)] = end
            ready = end
    return Schedule(tuple(ops), plant_hash=plant.content_hash(), created_by=created_by)


def simulated_frames(
    orders: Sequence[Order], schedule: Schedule, replications: int, seed: int, spread: float = 0.04
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per replication, every operation stretched by a random factor around the plan (operations,
    orders, and empty state intervals) in the store's simulation frame columns."""
    rng = np.random.default_rng(seed)
    by_id = {o.id: o for o in orders}
    ops = schedule.operations
    n = len(ops)
    starts = np.array([o.start for o in ops])
    ends = np.array([o.end for o in ops])
    op_rows, order_rows = [], []
    for rep in range(replications):
        factor = rng.lognormal(0.0, spread, size=n) * (1.0 + rng.normal(0.02, spread / 2))
        s, e = starts * factor, ends * factor
        scrap = rng.binomial([o.quantity for o in ops], 0.01)
        op_rows.append(
            pd.DataFrame(
                {
                    "replication": rep,
                    "order_id": [o.order_id for o in ops],
                    "op_index": [o.op_index for o in ops],
                    "operation": [o.operation for o in ops],
                    "station": [o.station for o in ops],
                    "machine": [o.machine for o in ops],
                    "start": s,
                    "end": e,
                    "setup": 0.0,
                    "quantity": [o.quantity for o in ops],
                    "good": np.array([o.quantity for o in ops]) - scrap,
                    "scrap": scrap,
                }
            )
        )
        done: dict[str, float] = {}
        for o, end in zip(ops, e, strict=True):
            done[o.order_id] = max(done.get(o.order_id, 0.0), float(end))
        for oid, completion in done.items():
            order = by_id[oid]
            late = completion - order.due
            order_rows.append(
                (
                    rep,
                    oid,
                    order.product,
                    order.quantity,
                    order.release,
                    order.due,
                    completion,
                    late,
                    max(0.0, late),
                    late <= 0,
                )
            )
    states = pd.DataFrame(
        {
            "replication": pd.Series(dtype="int32"),
            "station": pd.Series(dtype=str),
            "machine": pd.Series(dtype="int32"),
            "state": pd.Series(dtype=str),
            "start": pd.Series(dtype=float),
            "end": pd.Series(dtype=float),
        }
    )
    cols = [
        "replication",
        "order_id",
        "product",
        "quantity",
        "release",
        "due",
        "completion",
        "lateness",
        "tardiness",
        "on_time",
    ]
    return pd.concat(op_rows, ignore_index=True), pd.DataFrame(order_rows, columns=cols), states


def verdict_of(
    schedule: Schedule,
    sim_orders: pd.DataFrame,
    *,
    seed: int,
    policy: AcceptancePolicy | None = None,
    plant: Plant | None = None,
    orders: Sequence[Order] = (),
) -> Verdict:
    """The verdict the simulated orders give: per-order on-time share with a Wilson interval
    (naming `plant` and `orders` by content hash when given)."""
    policy = policy or AcceptancePolicy()
    planned = schedule.completion()
    reps = int(sim_orders["replication"].nunique())
    out = []
    for oid, g in sim_orders.groupby("order_id", sort=True):
        k = int(g["on_time"].sum())
        lo, hi = wilson_interval(k, len(g))
        out.append(
            OrderVerdict(
                order_id=str(oid),
                due=float(g["due"].iloc[0]),
                planned_completion=planned.get(str(oid)),
                on_time_probability=k / len(g),
                ci_low=lo,
                ci_high=hi,
                mean_completion=float(g["completion"].mean()),
                mean_lateness=float(g["tardiness"].mean()),
            )
        )
    reasons = tuple(
        f"order {o.order_id} on time in {o.on_time_probability:.0%} of {reps} replications "
        f"(policy: at least {policy.min_on_time:.0%})"
        for o in sorted(out, key=lambda o: o.on_time_probability)
        if o.on_time_probability < policy.min_on_time
    )
    return Verdict(
        schedule_hash=schedule.content_hash(),
        accepted=not reasons,
        reasons=reasons,
        orders=tuple(out),
        makespans=tuple(float(x) for x in sim_orders.groupby("replication")["completion"].max()),
        replications=reps,
        seed=seed,
        policy=policy,
        plant_hash=plant.content_hash() if plant is not None else "",
        orders_hash=book_hash(orders) if plant is not None else "",
    )


def actual_frames(
    plant: Plant, schedule: Schedule, now: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Floor events up to `now` for the plan as it 'ran' (each machine a little late, one part per
    event, some scrap, a breakdown now and then), and process values every 2 minutes."""
    rng = np.random.default_rng(seed)
    last_op = {oid: max(o.op_index for o in ops) for oid, ops in schedule.by_order().items()}
    busy_until: dict[tuple[str, int], float] = {}
    blocks = []
    states: list[tuple[float, str, int, str]] = []
    for op in schedule.operations:
        key = (op.station, op.machine)
        start = max(op.start + rng.exponential(120.0), busy_until.get(key, 0.0) + rng.exponential(30.0))
        if start >= now:
            continue
        unit = (op.end - op.start) / op.quantity * rng.lognormal(0.05, 0.05)
        times = start + unit * np.arange(1, op.quantity + 1)
        times = times[times < now]
        scrapped = rng.random(len(times)) < 0.015
        n = len(times)
        blocks.append(
            pd.DataFrame(
                {
                    "time": np.concatenate([[start], times]),
                    "station": op.station,
                    "machine": op.machine,
                    "kind": ["order_started"] + ["scrapped" if s else "produced" for s in scrapped],
                    "order_id": op.order_id,
                    "operation": op.operation,
                    "quantity": np.concatenate([[0], np.ones(n, dtype=int)]),
                    "state": None,
                }
            )
        )
        end = start + unit * op.quantity
        busy_until[key] = end
        states.append((start, op.station, op.machine, "Execute"))
        if rng.random() < 0.08 and end < now:  # a breakdown inside the operation
            t = start + (end - start) * rng.uniform(0.2, 0.8)
            states.append((t, op.station, op.machine, "Aborted"))
            states.append((t + rng.uniform(300, 1800), op.station, op.machine, "Execute"))
        if end < now:
            states.append((end, op.station, op.machine, "Idle"))
            if op.op_index == last_op[op.order_id]:
                blocks.append(
                    pd.DataFrame(
                        {
                            "time": [end],
                            "station": op.station,
                            "machine": op.machine,
                            "kind": "order_finished",
                            "order_id": op.order_id,
                            "operation": op.operation,
                            "quantity": [0],
                            "state": None,
                        }
                    )
                )
    st = pd.DataFrame(states, columns=["time", "station", "machine", "state"])
    st["kind"] = "state"
    st["order_id"] = None
    st["operation"] = None
    st["quantity"] = 0
    events = (
        pd.concat([*blocks, st], ignore_index=True).sort_values("time", kind="stable").reset_index(drop=True)
    )
    return events, process_values(plant, 0.0, now, seed)


def process_values(plant: Plant, start: float, end: float, seed: int, every: float = 120.0) -> pd.DataFrame:
    """Each declared process value sampled every `every` seconds: target + drift + normal noise,
    with a step of +1.5 sd over the last 12 samples (so the run rules have something to find)."""
    rng = np.random.default_rng(seed + 7)
    t = np.arange(start, end, every)
    frames = []
    for st in plant.stations:
        for pv in st.process_values:
            v = pv.target + pv.drift_per_hour * t / 3600.0 + rng.normal(0.0, pv.sd, len(t))
            v[-12:] += 1.5 * pv.sd
            frames.append(
                pd.DataFrame(
                    {
                        "time": t,
                        "source_time": [plant.epoch + timedelta(seconds=float(x)) for x in t],
                        "server_time": None,
                        "node_id": f"ns=2;s={st.id}.{pv.name}",
                        "station": st.id,
                        "tag": process_value_tag(pv.name),
                        "value": v,
                        "value_text": None,
                        "status_code": 0,
                        "status": "Good",
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    out["source_time"] = pd.to_datetime(out["source_time"], utc=True)
    out["server_time"] = pd.to_datetime(out["server_time"], utc=True)
    return out


@dataclass(frozen=True)
class SyntheticRuns:
    """Run ids written by `fill_history`."""

    plan: str
    simulation: str
    verdict: str
    scenario: str
    now: float
    events: int


def fill_history(
    store: HistoryStore,
    plant: Plant,
    orders: Sequence[Order],
    *,
    seed: int = 1,
    now_fraction: float = 0.45,
    replications: int = 10,
    policy: AcceptancePolicy | None = None,
) -> SyntheticRuns:
    """Write one plan with its simulation, verdict and a scenario run, and the floor's actuals up
    to `now_fraction` of the plan's makespan. Returns the run ids and `now`."""
    schedule = greedy_schedule(plant, orders)
    plan = store.record_run(
        "plan", started_by="synthetic", plant=plant, orders=list(orders), params={"name": "greedy"}
    )
    store.add_schedule(plan, schedule)
    ops, ords, states = simulated_frames(orders, schedule, replications, seed)
    sim = store.record_run(
        "simulation",
        started_by="synthetic",
        plant=plant,
        orders=list(orders),
        parent=plan,
        params={"replications": replications},
    )
    store.add_simulation(sim, operations=ops, orders=ords, states=states)
    verdict = verdict_of(schedule, ords, seed=seed, policy=policy, plant=plant, orders=orders)
    vrun = record_verdict(store, verdict, plant=plant, orders=orders, started_by="synthetic", parent=plan)
    scen = store.record_run(
        "scenario",
        started_by="synthetic",
        plant=plant,
        parent=plan,
        params={"scenario": "rush-fits"},
        kpis={
            "baseline.on_time_rate": float(ords["on_time"].mean()),
            "rush.on_time_rate": float(ords["on_time"].mean()) - 0.05,
        },
    )
    now = schedule.makespan * now_fraction
    events, values = actual_frames(plant, schedule, now, seed)
    store.add_actual_events(events)
    store.add_actual_values(values)
    return SyntheticRuns(plan, sim, vrun, scen, now, len(events))


def shifted_orders(orders: Sequence[Order], weeks: int, prefix: str) -> list[Order]:
    """The order book moved `weeks` weeks later with new ids (history of past weeks)."""
    dt = weeks * WEEK
    return [
        Order(
            f"{prefix}{o.id}",
            o.product,
            o.quantity,
            o.release + dt,
            o.due + dt if math.isfinite(o.due) else o.due,
            o.weight,
        )
        for o in orders
    ]
