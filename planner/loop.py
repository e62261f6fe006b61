"""Plan, simulate, repair: re-plan until the simulator accepts the schedule, or say why not.

Each pass plans with CP-SAT (weighted tardiness), asks `sim.check` for a verdict over
`replications` runs, and, for the orders below the policy's on-time probability, repairs:
1. a tighter internal due date (by the order's mean simulated lateness, at least
   REPAIR_MIN_SECONDS or 5 % of its lead time, at most a quarter of its lead time per pass),
   so CP-SAT plans it earlier;
2. a time buffer at the station the verdict blames most for the order's waiting: the
   planned processing times there are stretched (first by the station's expected breakdown
   loss, 1 / availability, or STRETCH_STEP if it has no failures; then by STRETCH_STEP per
   pass), so the plan holds the slack the floor needs there;
3. a doubled weight, so the order wins conflicts with others.
The loop stops when the verdict accepts, or after `max_iterations`; it then returns the
best pass (fewest failing orders, then highest mean on-time probability) and the
evidence: which orders still fail and, when CP-SAT proved that even the mean-time plan
cannot have every order on time, that proof.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from planner.data import build_problem
from planner.results import IterationReport, LoopResult, PlanResult
from planner.solver import solve_problem
from sim import check
from twin.errors import InfeasibleError
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.timeutil import format_duration
from twin.verdict import AcceptancePolicy, Verdict

REPAIR_MIN_SECONDS = 900.0
"""The smallest tightening of an internal due date in one repair step."""
SERVICE_REPAIRS = 5
"""Orders repaired per pass when the verdict fails only on the service level."""
STRETCH_STEP = 1.05
"""Growth of a blamed station's planned processing times per repair step."""


def _blamed_station(delay: dict[str, float]) -> tuple[str, float] | None:
    queues = [
        (cause.split(":", 1)[1], s) for cause, s in delay.items() if cause.startswith("queue:") and s > 0
    ]
    return max(queues, key=lambda x: x[1]) if queues else None


def _score(verdict: Verdict, policy: AcceptancePolicy) -> tuple[int, float]:
    failing = sum(1 for o in verdict.orders if o.on_time_probability < policy.min_on_time)
    mean = sum(o.on_time_probability for o in verdict.orders) / max(len(verdict.orders), 1)
    return (failing, -mean)


def plan_until_accepted(
    plant: Plant,
    orders: Sequence[Order],
    *,
    policy: AcceptancePolicy = AcceptancePolicy(),
    replications: int = 30,
    seed: int = 0,
    max_iterations: int = 4,
    time_limit: float = 10.0,
    workers: int = 2,
    live: LiveState | None = None,
    executor: cf.Executor | None = None,
    progress: Callable[..., object] | None = None,
    work_limit: float | None = None,
) -> LoopResult:
    """Plan, check with the simulator, repair and re-plan until accepted (or `max_iterations`).

    Raises:
        InfeasibleError: the order book admits no schedule at all.
        ValueError: max_iterations < 1.
    """
    if max_iterations < 1:
        raise ValueError("max_iterations must be at least 1")
    by_id = {o.id: o for o in orders}
    due: dict[str, float] = {}
    stretch: dict[str, float] = {}
    weight_factor: dict[str, int] = {}
    reports: list[IterationReport] = []
    changes: tuple[str, ...] = ()
    proof: str | None = None
    best: tuple[tuple[int, float], IterationReport] | None = None
    for iteration in range(1, max_iterations + 1):
        problem = build_problem(plant, orders, live, due_overrides=due, stretch=stretch)
        problem = replace(
            problem,
            orders={
                oid: replace(od, weight=od.weight * weight_factor.get(oid, 1))
                for oid, od in problem.orders.items()
            },
        )
        result: PlanResult = solve_problem(
            problem,
            plant.content_hash(),
            objective="tardiness",
            time_limit=time_limit,
            workers=workers,
            hint=None,
            seed=seed,
            work_limit=work_limit,
        )
        if not result.schedule.operations:
            raise InfeasibleError(f"pass {iteration}: CP-SAT returned {result.status} and no schedule")
        if iteration == 1 and result.status == "OPTIMAL" and result.objective and result.objective > 0:
            proof = (
                f"CP-SAT proved that even with mean times no schedule has every order on time "
                f"(minimum weighted tardiness {format_duration(result.objective)})"
            )
        verdict = check(
            plant,
            orders,
            result.schedule,
            replications=replications,
            seed=seed,
            policy=policy,
            live=live,
            executor=executor,
            progress=progress,
        )
        failing = tuple(o.order_id for o in verdict.orders if o.on_time_probability < policy.min_on_time)
        report = IterationReport(
            iteration=iteration,
            plan=result,
            verdict=verdict,
            changes=changes,
            on_time={o.order_id: o.on_time_probability for o in verdict.orders},
            failing=failing,
        )
        reports.append(report)
        score = _score(verdict, policy)
        if best is None or score < best[0]:
            best = (score, report)
        if verdict.accepted:
            return LoopResult(
                result.schedule, verdict, True, tuple(reports), f"accepted after {iteration} pass(es)"
            )
        # ---- repair ----
        notes: list[str] = []
        stretched_now: set[str] = set()
        at_risk = [ov for ov in verdict.orders if ov.on_time_probability < policy.min_on_time]
        if not at_risk:  # refused on the service level: repair the least reliable orders
            at_risk = sorted(
                (ov for ov in verdict.orders if ov.on_time_probability < 1.0),
                key=lambda ov: ov.on_time_probability,
            )[:SERVICE_REPAIRS]
        for ov in at_risk:
            order = by_id[ov.order_id]
            current = due.get(order.id, order.due)
            if math.isfinite(current):
                lead = order.due - order.release
                step = min(max(ov.mean_lateness, REPAIR_MIN_SECONDS, 0.05 * lead), 0.25 * lead)
                due[order.id] = max(order.release, current - step)
                notes.append(f"{order.id}: internal due {format_duration(step)} earlier")
            blamed = _blamed_station(ov.delay)
            if blamed is not None and blamed[0] not in stretched_now:
                station = blamed[0]
                stretched_now.add(station)
                failures = plant.station_map[station].failures
                if station in stretch:
                    stretch[station] *= STRETCH_STEP
                else:
                    stretch[station] = 1 / failures.availability if failures is not None else STRETCH_STEP
                notes.append(
                    f"buffer at {station}: planned times x{stretch[station]:.3f} (blamed by {order.id})"
                )
            weight_factor[order.id] = weight_factor.get(order.id, 1) * 2
        changes = tuple(notes)
    assert best is not None
    report = best[1]
    still = ", ".join(
        f"{oid} ({report.on_time[oid]:.0%})"
        for oid in sorted(report.failing, key=lambda o: report.on_time[o])
    )
    reason = (
        f"no schedule passed in {max_iterations} pass(es); best was pass {report.iteration} with "
        f"{len(report.failing)} order(s) below {policy.min_on_time:.0%} on time: {still}"
    )
    if proof:
        reason += f"; {proof}"
    return LoopResult(report.plan.schedule, report.verdict, False, tuple(reports), reason)
