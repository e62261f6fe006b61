"""Running the model: one run (`simulate`), replications on an executor (`replicate`).

Replication i of a run seeded `seed` draws every random number from streams named by
(seed, i, purpose) (see sim.streams), so the same arguments give the same result bit
for bit, in any process, and two variants with the same seed share their random
numbers (common random numbers). Work sent to an executor is a picklable call of
`run_one` with plain data.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from sim.model import PlantModel
from sim.pool import stop_pool, worker_pool
from sim.result import SimResult
from sim.streams import derive_seed
from twin.kpi import KPIS, KpiRegistry
from twin.live import LiveState
from twin.orders import Order, generate_orders
from twin.plant import Plant
from twin.schedule import Schedule
from twin.stats import Estimate, estimate_kpi
from twin.timeutil import format_duration

Progress = Callable[[int, int], None]
MAX_STREAM_ORDERS = 1_000_000
"""Orders an order stream may bring in one replication (a longer horizon would run for hours)."""


class SerialExecutor(cf.Executor):
    """An executor that runs each call at once in the calling process (no pool, no pickling)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future, as a pool would
            future.set_exception(exc)
        return future


class UnknownKPIError(ValueError):
    """Sequential stopping was asked on a KPI that no replication reports."""


def replication_seed(seed: int, replication: int) -> int:
    """The seed that names replication `replication` of a run seeded `seed` (reported, for the record)."""
    return derive_seed(seed, replication, "replication")


def orders_for(
    plant: Plant,
    orders: Sequence[Order] | None,
    until: float | None,
    seed: int,
    replication: int,
    start: float,
) -> list[Order]:
    """The order book, or orders generated from the plant's stream up to `until` (seeded).

    Raises:
        ValueError: no orders and no stream, a stream without `until`, or one that would bring
            more than `MAX_STREAM_ORDERS` orders in that time.
    """
    if orders is not None:
        return list(orders)
    if plant.order_stream is None:
        raise ValueError(f"plant {plant.name!r} has no order stream: pass an order book")
    if until is None:
        raise ValueError("orders from the plant's order stream need `until` (how long to simulate)")
    expected = (until - start) / plant.order_stream.interarrival.mean
    if expected > MAX_STREAM_ORDERS:
        raise ValueError(
            f"the order stream would bring about {expected:,.0f} orders in {format_duration(until - start)}, "
            f"expected at most {MAX_STREAM_ORDERS:,}: simulate a shorter time"
        )
    return generate_orders(plant.order_stream, until, derive_seed(seed, replication, "arrivals"), start=start)


def run_one(
    plant: Plant,
    orders: Sequence[Order] | None,
    schedule: Schedule | None,
    rule: str,
    until: float | None,
    seed: int,
    replication: int,
    live: LiveState | None,
    kpis: KpiRegistry = KPIS,
) -> SimResult:
    """Replication `replication`: build the model, run it to `until` (or until all work is done);
    its KPIs are those of the registry `kpis`."""
    # A run makes millions of short-lived objects and no reference cycles on its hot path:
    # pausing the cyclic collector (which would scan every live object again and again)
    # saves a fifth of the time; it resumes afterwards.
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = live.time if live is not None else 0.0
        book = orders_for(plant, orders, until, seed, replication, start)
        model = PlantModel(
            plant,
            orders=book,
            schedule=schedule,
            rule=rule,
            seed=seed,
            replication=replication,
            live=live,
            horizon=until,
        )
        model.run(until)
        return model.result(until if until is not None else model.work_done_time(), kpis=kpis)
    finally:
        if enabled:
            gc.enable()


def simulate(
    plant: Plant,
    orders: Sequence[Order] | None,
    *,
    schedule: Schedule | None = None,
    rule: str = "FIFO",
    until: float | None = None,
    seed: int = 0,
    live: LiveState | None = None,
    kpis: KpiRegistry = KPIS,
) -> SimResult:
    """One run (replication 0 of `seed`), its KPIs from the registry `kpis`. `until` is a plant
    time (seconds from the epoch); None runs until every order is done (or nothing more can happen).

    Raises:
        ValueError: an unknown rule, a plan that does not fit the plant, or no orders to run.
    """
    return run_one(plant, orders, schedule, rule, until, seed, 0, live, kpis)


@dataclass(frozen=True, eq=False)
class Replications:
    """n replications: KPI values per replication, their means with 95% CIs, the frames concatenated."""

    per_replication: tuple[dict[str, float], ...]
    kpis: dict[str, Estimate]
    seeds: tuple[int, ...]
    seed: int
    until: float | None
    operations: pd.DataFrame
    orders: pd.DataFrame
    states: pd.DataFrame
    delays: pd.DataFrame
    ends: tuple[float, ...] = ()
    """Where each replication's window ended (its `until`, or when its work was done)."""

    @property
    def n(self) -> int:
        return len(self.per_replication)

    def values(self, kpi: str) -> list[float]:
        """The KPI's value in each replication (NaN where it was undefined)."""
        return [r.get(kpi, math.nan) for r in self.per_replication]


def estimate(values: Sequence[float], kpi: str = "") -> Estimate:
    """Mean and 95% CI over the defined (non-NaN) values (within [0, 1] when `kpi` is a share)."""
    return estimate_kpi(kpi, [v for v in values if not math.isnan(v)])


def _aggregate(results: list[SimResult], seed: int, until: float | None) -> Replications:
    per = tuple(r.kpis for r in results)
    names = sorted({k for r in per for k in r})
    return Replications(
        per_replication=per,
        kpis={k: estimate([r.get(k, math.nan) for r in per], k) for k in names},
        seeds=tuple(replication_seed(seed, r.replication) for r in results),
        seed=seed,
        until=until,
        operations=pd.concat([r.operations for r in results], ignore_index=True),
        orders=pd.concat([r.orders for r in results], ignore_index=True),
        states=pd.concat([r.states for r in results], ignore_index=True),
        delays=pd.concat([r.delays for r in results], ignore_index=True),
        ends=tuple(r.until for r in results),
    )


def replicate(
    plant: Plant,
    orders: Sequence[Order] | None,
    *,
    schedule: Schedule | None = None,
    rule: str = "FIFO",
    until: float | None = None,
    replications: int = 10,
    seed: int = 0,
    live: LiveState | None = None,
    executor: cf.Executor | None = None,
    target: tuple[str, float] | None = None,
    max_replications: int = 200,
    progress: Progress | None = None,
    kpis: KpiRegistry = KPIS,
) -> Replications:
    """`replications` runs (0..n-1 of `seed`) on `executor` (default: a local pool of 2 processes
    when n > 1). With `target=(kpi, half_width)`, go on in small batches until the 95% CI
    half-width of `kpi` is at most `half_width` or `max_replications` ran (sequential stopping;
    `replications` is then the minimum). `progress(done, planned)` is called after each run.
    Each run reports the KPIs of the registry `kpis` (it travels to the workers with the call).

    Raises:
        UnknownKPIError: `target` names a KPI no replication reports.
        ValueError: fewer than 1 replication, or what `simulate` raises.
    """
    if replications < 1:
        raise ValueError("replications must be at least 1")
    if target is not None and replications < 2:
        raise ValueError("sequential stopping needs at least 2 replications to start with")
    own = None
    if executor is None:
        many = replications > 1 or target is not None
        executor = own = worker_pool(2, spawn=False) if many else SerialExecutor()
    results: dict[int, SimResult] = {}
    try:
        goal = replications
        while True:
            todo = range(len(results), goal)
            futures = {
                executor.submit(run_one, plant, orders, schedule, rule, until, seed, i, live, kpis): i
                for i in todo
            }
            for fut in cf.as_completed(futures):
                results[futures[fut]] = fut.result()
                if progress is not None:
                    progress(len(results), goal)
            if target is None or goal >= max_replications:
                break
            kpi, half_width = target
            if not any(kpi in results[i].kpis for i in range(goal)):
                known = ", ".join(sorted({k for r in results.values() for k in r.kpis}))
                raise UnknownKPIError(f"no KPI {kpi!r} in the simulation results (known: {known})")
            est = estimate([results[i].kpis.get(kpi, math.nan) for i in range(goal)], kpi)
            if est.n >= 2 and est.half_width <= half_width:
                break
            goal = min(max_replications, goal + max(2, goal // 4))
    except BaseException:  # Ctrl-C or a failed run: do not wait for the other replications
        if isinstance(own, cf.ProcessPoolExecutor):
            stop_pool(own)
            own = None
        raise
    finally:
        if own is not None:
            own.shutdown()
    return _aggregate([results[i] for i in sorted(results)], seed, until)
