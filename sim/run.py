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
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from sim.model import PlantModel
from sim.result import SimResult
from sim.streams import derive_seed
from twin.live import LiveState
from twin.orders import Order, generate_orders
from twin.plant import Plant
from twin.schedule import Schedule
from twin.stats import Estimate, mean_ci

Progress = Callable[[int, int], None]


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
        ValueError: no orders and no stream, or a stream without `until`.
    """
    if orders is not None:
        return list(orders)
    if plant.order_stream is None:
        raise ValueError(f"plant {plant.name!r} has no order stream: pass an order book")
    if until is None:
        raise ValueError("orders from the plant's order stream need `until` (how long to simulate)")
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
) -> SimResult:
    """Replication `replication`: build the model, run it to `until` (or until all work is done)."""
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
        return model.result(until if until is not None else model.work_done_time())
    finally:
        if enabled:
            gc.enable()


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the caller, which shuts the pool down (no worker tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def simulate(
    plant: Plant,
    orders: Sequence[Order] | None,
    *,
    schedule: Schedule | None = None,
    rule: str = "FIFO",
    until: float | None = None,
    seed: int = 0,
    live: LiveState | None = None,
) -> SimResult:
    """One run (replication 0 of `seed`). `until` is a plant time (seconds from the epoch);
    None runs until every order is done (or nothing more can happen).

    Raises:
        ValueError: an unknown rule, a plan that does not fit the plant, or no orders to run.
    """
    return run_one(plant, orders, schedule, rule, until, seed, 0, live)


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


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and 95% CI over the defined (non-NaN) values."""
    return mean_ci([v for v in values if not math.isnan(v)])


def _aggregate(results: list[SimResult], seed: int, until: float | None) -> Replications:
    per = tuple(r.kpis for r in results)
    names = sorted({k for r in per for k in r})
    return Replications(
        per_replication=per,
        kpis={k: estimate([r.get(k, math.nan) for r in per]) for k in names},
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
) -> Replications:
    """`replications` runs (0..n-1 of `seed`) on `executor` (default: a local pool of 2 processes
    when n > 1). With `target=(kpi, half_width)`, go on in small batches until the 95% CI
    half-width of `kpi` is at most `half_width` or `max_replications` ran (sequential stopping;
    `replications` is then the minimum). `progress(done, planned)` is called after each run.

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
        executor = own = (
            cf.ProcessPoolExecutor(max_workers=2, initializer=_ignore_sigint) if many else SerialExecutor()
        )
    results: dict[int, SimResult] = {}
    try:
        goal = replications
        while True:
            todo = range(len(results), goal)
            futures = {
                executor.submit(run_one, plant, orders, schedule, rule, until, seed, i, live): i for i in todo
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
            est = estimate([results[i].kpis.get(kpi, math.nan) for i in range(goal)])
            if est.n >= 2 and est.half_width <= half_width:
                break
            goal = min(max_replications, goal + max(2, goal // 4))
    finally:
        if own is not None:
            own.shutdown()
    return _aggregate([results[i] for i in sorted(results)], seed, until)
