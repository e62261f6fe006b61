"""A fast stand-in for the planner and the simulator behind the scenario runner's `Engine` port:
greedy plans and noisy replications from `synthetic_history` (beside this file), so the what-if
page can be tested end to end (page -> services -> scenario runner -> history) in seconds."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Executor

from synthetic_history import greedy_schedule, simulated_frames, verdict_of

from scenarios.engine import PlanOutcome, SimOutcome
from scenarios.model import PlannerSettings
from scenarios.report import PlanSummary
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import AcceptancePolicy, Verdict


class GreedyEngine:
    """Plans greedily and 'simulates' by stretching the plan; `pause` makes each step take time
    so a test can see the page's progress while the work runs. Keyword arguments the runner
    adds later (a live state, ...) are accepted and ignored."""

    def __init__(self, pause: float = 0.4) -> None:
        self.pause = pause

    def plan(
        self,
        plant: Plant,
        orders: Sequence[Order],
        settings: PlannerSettings,
        *,
        seed: int,
        hint: Schedule | None,
        **_: object,
    ) -> PlanOutcome:
        time.sleep(self.pause)
        s = greedy_schedule(plant, orders)
        return PlanOutcome(
            s, PlanSummary("solve", "FEASIBLE", s.makespan, None, schedule_hash=s.content_hash())
        )

    def replan(
        self,
        plant: Plant,
        schedule: Schedule,
        orders: Sequence[Order],
        rush: Sequence[Order],
        now: float,
        settings: PlannerSettings,
        **_: object,
    ) -> PlanOutcome:
        return self.plan(plant, orders, settings, seed=0, hint=schedule)

    def check(
        self,
        plant: Plant,
        orders: Sequence[Order],
        schedule: Schedule,
        *,
        replications: int,
        seed: int,
        policy: AcceptancePolicy,
        **_: object,
    ) -> Verdict:
        _, sim_orders, _ = simulated_frames(orders, schedule, replications, seed)
        return verdict_of(schedule, sim_orders, seed=seed, policy=policy)

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
        policy: AcceptancePolicy | None = None,
        executor: Executor | None = None,
        serial: bool = False,
        **_: object,
    ) -> SimOutcome:
        time.sleep(self.pause)
        assert schedule is not None
        _, sim_orders, _ = simulated_frames(orders, schedule, replications, seed)
        verdict = verdict_of(schedule, sim_orders, seed=seed, policy=policy)
        per_rep = sim_orders.groupby("replication")
        samples = {
            "makespan": tuple(float(x) for x in per_rep["completion"].max()),
            "on_time_rate": tuple(float(x) for x in per_rep["on_time"].mean()),
            "tardiness_total": tuple(float(x) for x in per_rep["tardiness"].sum()),
        }
        on_time = {str(k): float(v) for k, v in sim_orders.groupby("order_id")["on_time"].mean().items()}
        return SimOutcome(samples=samples, on_time=on_time, verdict=verdict)
