"""The port between the runner and the core: plan, re-plan, simulate and check (the `Engine` protocol).

`TwinEngine` is the real thing (planner + sim); tests plug in other engines through
the runner's constructor argument, never by monkeypatching. An engine must be
picklable: sweep points run in worker processes or on Dask workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from scenarios.model import PlannerSettings
from scenarios.report import PlanSummary
from twin.kpi import KPIS, KpiRegistry
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.timeutil import parse_duration
from twin.verdict import AcceptancePolicy, Verdict

if TYPE_CHECKING:
    from planner.results import PlanResult


@dataclass(frozen=True)
class PlanOutcome:
    """A plan (None in the simulator's rule mode) and how it was made."""

    schedule: Schedule | None
    summary: PlanSummary


@dataclass(frozen=True)
class SimOutcome:
    """Replications of one configuration: KPI values per replication, per-order on-time fraction, verdict."""

    samples: dict[str, tuple[float, ...]]
    on_time: dict[str, float]
    verdict: Verdict | None = None
    """The feasibility check of the schedule, judged on these same replications (None without one)."""


class Engine(Protocol):
    """What the runner needs from the planner and the simulator."""

    def plan(
        self,
        plant: Plant,
        orders: Sequence[Order],
        settings: PlannerSettings,
        *,
        seed: int,
        hint: Schedule | None,
        live: LiveState | None = None,
    ) -> PlanOutcome: ...

    def replan(
        self,
        plant: Plant,
        schedule: Schedule,
        orders: Sequence[Order],
        rush: Sequence[Order],
        live: LiveState,
        settings: PlannerSettings,
    ) -> PlanOutcome: ...

    def simulate(
        self,
        plant: Plant,
        orders: Sequence[Order],
        schedule: Schedule | None,
        *,
        rule: str,
        until: float | None,
        replications: int,
        seed: int,
        policy: AcceptancePolicy,
        executor: Executor | None = None,
        serial: bool = False,
        live: LiveState | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SimOutcome:
        """Replications of the plan (or of `rule` when schedule is None); the plan judged under `policy`."""
        ...


def _late(schedule: Schedule, orders: Sequence[Order]) -> int:
    done = schedule.completion()
    return sum(1 for o in orders if done.get(o.id, float("inf")) > o.due + 1e-6)


@dataclass(frozen=True)
class TwinEngine:
    """The planner (CP-SAT, dispatch rules, minimal-disruption re-plan) and the SimPy simulator.

    `planner` and `sim` are imported on first use: every `plantwin` command imports this module
    (the CLI registers all commands), and OR-Tools takes a noticeable time to load. Simulations
    report the KPIs of the registry `kpis`.
    """

    kpis: KpiRegistry = KPIS

    def plan(
        self,
        plant: Plant,
        orders: Sequence[Order],
        settings: PlannerSettings,
        *,
        seed: int,
        hint: Schedule | None,
        live: LiveState | None = None,
    ) -> PlanOutcome:
        import planner

        if settings.mode == "rule":
            return PlanOutcome(
                None, PlanSummary("rule", "simulator dispatch", None, None, note=f"rule {settings.rule}")
            )
        if settings.mode == "dispatch":
            schedule = planner.dispatch_schedule(plant, orders, rule=settings.rule, live=live)
            summary = PlanSummary(
                "dispatch", "feasible", schedule.makespan, _late(schedule, orders),
                schedule_hash=schedule.content_hash(), note=f"rule {settings.rule}",
            )  # fmt: skip
            return PlanOutcome(schedule, summary)
        result = planner.solve(
            plant, orders, objective=settings.objective, time_limit=settings.time_limit,
            workers=settings.workers, hint=hint, seed=seed, live=live, work_limit=settings.work_limit,
        )  # fmt: skip
        return PlanOutcome(result.schedule, _summary("solve", result))

    def replan(
        self,
        plant: Plant,
        schedule: Schedule,
        orders: Sequence[Order],
        rush: Sequence[Order],
        live: LiveState,
        settings: PlannerSettings,
    ) -> PlanOutcome:
        import planner

        rush_ids = {r.id for r in rush}
        existing = [o for o in orders if o.id not in rush_ids]
        result = planner.replan(
            plant, schedule, existing, list(rush), live,
            frozen_horizon=parse_duration(settings.frozen_horizon), time_limit=settings.time_limit,
            workers=settings.workers, change_weight=settings.change_weight,
            work_limit=settings.work_limit,
        )  # fmt: skip
        return PlanOutcome(result.schedule, _summary("replan", result))

    def simulate(
        self,
        plant: Plant,
        orders: Sequence[Order],
        schedule: Schedule | None,
        *,
        rule: str,
        until: float | None,
        replications: int,
        seed: int,
        policy: AcceptancePolicy,
        executor: Executor | None = None,
        serial: bool = False,
        live: LiveState | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SimOutcome:
        """`serial`: run the replications in this process (a sweep point inside a worker).

        The verdict comes from the same replications when they run to completion (`until`
        None); with a window, the check runs its own replications to completion, same seed.
        """
        import sim
        from sim.check import judge
        from sim.run import SerialExecutor

        if serial:
            executor = SerialExecutor()
        book = list(orders)
        reps = sim.replicate(
            plant, book, schedule=schedule, rule=rule, until=until, replications=replications,
            seed=seed, executor=executor, live=live, progress=progress, kpis=self.kpis,
        )  # fmt: skip
        verdict = None
        if schedule is not None:
            if until is None:
                verdict = judge(reps, book, schedule, policy, plant=plant)
            else:
                verdict = sim.check(
                    plant,
                    book,
                    schedule,
                    replications=replications,
                    seed=seed,
                    policy=policy,
                    executor=executor,
                    live=live,
                )
        return sim_outcome(reps, verdict)


def _summary(mode: str, result: PlanResult) -> PlanSummary:
    return PlanSummary(
        mode=mode,
        status=result.status,
        makespan=result.makespan,
        late_orders=len(result.late_orders),
        objective=result.objective,
        gap=result.gap,
        seconds=result.seconds,
        schedule_hash=result.schedule.content_hash(),
        note="; ".join(result.notes),
    )


def sim_outcome(reps: Any, verdict: Verdict | None = None) -> SimOutcome:
    """KPI samples and per-order on-time fractions from `sim.replicate`'s `Replications`.

    An order not finished within the window counts as late in that replication.
    """
    names = sorted({k for r in reps.per_replication for k in r})
    samples = {k: tuple(float(v) for v in reps.values(k)) for k in names}
    frame = reps.orders
    on_time: dict[str, float] = {}
    if len(frame):
        on_time = {str(k): float(v) for k, v in frame.groupby("order_id")["on_time"].mean().items()}
    return SimOutcome(samples, on_time, verdict)
