"""Planning steps of the long-running service and the demo, as plain blocking calls (they run
them with asyncio.to_thread so the OPC UA server and client stay responsive): plan the order
book until the simulator accepts it, and re-plan for a rush order then check the result from
the live state."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from planner import plan_until_accepted, replan
from planner.results import LoopResult, ReplanResult
from sim import replicate
from sim.check import judge
from sim.run import Replications
from twin.fit import misfit_summary, misfits
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import AcceptancePolicy, Verdict


class PlanSettings(Protocol):
    """What planning needs to know (the demo's `DemoConfig` and the service's settings have it)."""

    @property
    def policy(self) -> AcceptancePolicy: ...
    @property
    def replications(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def max_iterations(self) -> int: ...
    @property
    def time_limit(self) -> float: ...
    @property
    def work_limit(self) -> float | None: ...
    @property
    def release_horizon(self) -> float: ...


@dataclass(frozen=True)
class Planning:
    """Plain planning settings (the long-running service's)."""

    policy: AcceptancePolicy
    replications: int
    seed: int
    time_limit: float
    work_limit: float | None
    max_iterations: int = 3
    release_horizon: float = 4 * 3600.0


def plan_book(
    plant: Plant, orders: Sequence[Order], live: LiveState, cfg: PlanSettings, executor: cf.Executor | None
) -> LoopResult:
    """CP-SAT (weighted tardiness, bounded work) -> sim.check from `live` -> repair, until accepted."""
    return plan_until_accepted(
        plant,
        orders,
        policy=cfg.policy,
        replications=cfg.replications,
        seed=cfg.seed,
        max_iterations=cfg.max_iterations,
        time_limit=cfg.time_limit,
        workers=2,
        live=live,
        executor=executor,
        work_limit=cfg.work_limit,
    )


@dataclass(frozen=True)
class RushOutcome:
    """The re-plan for a rush order, the simulator's verdict on it and the replications that
    verdict judged (the demo records them as the plan's simulation rather than running them twice)."""

    rush: Order
    result: ReplanResult
    verdict: Verdict
    replications: Replications

    @property
    def schedule(self) -> Schedule:
        return self.result.schedule


def plan_rush(
    plant: Plant,
    schedule: Schedule,
    orders: Sequence[Order],
    rush: Order,
    live: LiveState,
    cfg: PlanSettings,
    executor: cf.Executor | None,
) -> RushOutcome:
    """Re-plan with the rush order (released work frozen), then check it warm-started from `live`
    (`sim.check`'s steps, keeping its replications).

    Raises:
        ValueError: a re-plan that does not fit the plant or the order book (as `sim.check`).
    """
    result = replan(
        plant,
        schedule,
        orders,
        [rush],
        live,
        frozen_horizon=cfg.release_horizon,
        time_limit=cfg.time_limit,
        workers=2,
        work_limit=cfg.work_limit,
    )
    book = [*orders, rush]
    found = misfits(result.schedule, plant, book)
    if found:
        raise ValueError(misfit_summary(found, plant))
    reps = replicate(
        plant,
        book,
        schedule=result.schedule,
        replications=cfg.replications,
        seed=cfg.seed,
        live=live,
        executor=executor,
    )
    verdict = judge(reps, book, result.schedule, cfg.policy, plant=plant)
    return RushOutcome(rush, result, verdict, reps)
