"""Plan, simulate, repair: re-plan until the simulator accepts the schedule, or say why not.

Each pass plans with CP-SAT, asks `sim.check` for a verdict over `replications` runs
and repairs what the verdict blames, order by order (`OrderVerdict.delay`):

- everything that fails gets an internal due date earlier (at least REPAIR_MIN_SECONDS,
  at most a quarter of its window per pass);
- `queue:<station>` or `breakdown`: if the order's operation there has another eligible
  station, the lot is moved off the blamed one (alternative machines); else the
  blamed station gets a time buffer (planned times x 1 / availability when it fails,
  else STRETCH_STEP, growing by STRETCH_STEP per pass);
- `material`: the order gets first claim on its material (weight x 4);
- flow time (the order's time went to its own work, its own work fills more than
  FLOW_SHARE of its window, or overlapping its operations could save its lateness): the
  lot is split into transfer batches (`ScheduledOperation.transfer_batch`), first of a
  quarter of the lot, halved on later passes down to a tenth (MAX_BATCHES), so its next
  operation starts on the first batch instead of the whole lot;
- any cause: the order's weight doubles (priority of the blamed orders).

The internal due date moves by the mean lateness of the late runs (mean lateness /
share late). When more than TRIAGE_SHARE of the orders fail, the next plan minimises
the number of late orders first (each costs a day of tardiness at its weight) and
tardiness second, so capacity goes to the orders that can still be saved instead of
being spread over all of them. A pass no better than the best goes back to the best
pass's repairs and tries a gentler kind (cause and priority without due dates; then
priority only). The loop stops when the verdict accepts; after `max_iterations`; or
when PATIENCE passes in a row did not improve on the best, saying why: which orders
still fail, the cause blamed for each, orders whose own work does not fit their
window, and CP-SAT's proof when even the mean-time plan cannot have every order on time.

The loop is monotone in what it returns: the schedule of the best pass so far (fewest failing
orders, then the highest mean on-time probability), never a later, worse one. Every pass is
reported as it was, with `best` (the best pass so far) and `note` (for a pass that did not
improve: by how much it fell short, and what the next pass tries instead).
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ortools.sat.python import cp_model

from planner.data import Problem, build_problem
from planner.model import ModelVars
from planner.results import IterationReport, LoopResult, PlanResult
from planner.solver import Placements, best_dispatch, run_model
from sim import check
from twin.errors import InfeasibleError
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.timeutil import format_duration
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict

REPAIR_MIN_SECONDS = 900.0
"""The smallest tightening of an internal due date in one repair step."""
SERVICE_REPAIRS = 5
"""Orders repaired per pass when the verdict fails only on the service level."""
STRETCH_STEP = 1.05
"""Growth of a blamed station's planned processing times per repair step."""
LATE_DAY = 86400
"""Cost of one late order in the on-time objective: a day of tardiness at the order's weight."""
PATIENCE = 3
"""Passes in a row without a better verdict before the loop stops and says why."""
TRIAGE_SHARE = 0.25
"""When more than this share of the orders fails, the next plan minimises late orders first."""
OWN_WORK = ("processing", "setup")
"""Delay causes that are the order's own work, not something a repair can move."""
FLOW_SHARE = 0.5
"""An order whose own sequential work fills more than this share of its window is flow-time bound."""
FIRST_BATCHES = 4
"""Transfer batches a lot is first split into by the repair (later passes halve the batch size)."""
MAX_BATCHES = 10
"""At most this many transfer batches per lot (each is a handling move on the floor)."""


@dataclass
class _Repairs:
    """What the loop has changed so far; each pass builds its problem from the plant and these."""

    due: dict[str, float] = field(default_factory=dict)
    stretch: dict[str, float] = field(default_factory=dict)
    weight: dict[str, int] = field(default_factory=dict)
    avoid: dict[str, set[str]] = field(default_factory=dict)
    transfer: dict[str, int] = field(default_factory=dict)

    def problem(self, plant: Plant, orders: Sequence[Order], live: LiveState | None) -> Problem:
        problem = build_problem(
            plant, orders, live, due_overrides=self.due, stretch=self.stretch, transfer=self.transfer
        )
        ops = []
        for op in problem.ops:
            banned = self.avoid.get(op.order_id, set())
            alts = tuple(a for a in op.alternatives if a.station not in banned)
            ops.append(replace(op, alternatives=alts) if op.fixed is None and alts and banned else op)
        return replace(
            problem,
            ops=tuple(ops),
            orders={
                oid: replace(od, weight=od.weight * self.weight.get(oid, 1))
                for oid, od in problem.orders.items()
            },
        )


def blamed_cause(ov: OrderVerdict) -> str:
    """The delay cause with the most mean seconds, own work aside ("processing" if nothing else)."""
    others = [(cause, s) for cause, s in ov.delay.items() if cause not in OWN_WORK and s > 0]
    return max(others, key=lambda x: x[1])[0] if others else "processing"


def _score(verdict: Verdict, policy: AcceptancePolicy) -> tuple[int, float]:
    failing = sum(1 for o in verdict.orders if o.on_time_probability < policy.min_on_time)
    mean = sum(o.on_time_probability for o in verdict.orders) / max(len(verdict.orders), 1)
    return (failing, -mean)


def _compare(score: tuple[int, float], other: tuple[int, float]) -> str:
    """Two passes' scores in words: failing orders, then mean on-time probability."""
    return f"{score[0]} failing vs {other[0]}, mean on time {-score[1]:.1%} vs {-other[1]:.1%}"


def _late_terms(
    problem: Problem, hint: Placements
) -> Callable[[cp_model.CpModel, ModelVars], cp_model.LinearExprT]:
    """Objective terms of the on-time pass: LATE_DAY x weight per late order (hinted from `hint`)."""

    def extra(model: cp_model.CpModel, mv: ModelVars) -> cp_model.LinearExprT:
        terms = []
        for oid, tard in mv.tardiness.items():
            late = model.new_bool_var(f"late[{oid}]")
            model.add(tard == 0).only_enforce_if(~late)
            chain = problem.chain(oid)
            due = problem.orders[oid].due
            if chain and due is not None and chain[-1].key in hint:
                model.add_hint(late, hint[chain[-1].key].end > due)
            terms.append(problem.orders[oid].weight * LATE_DAY * late)
        return sum(terms) if terms else cp_model.LinearExpr.constant(0)

    return extra


def _plan(
    problem: Problem, plant_hash: str, objective: str, time_limit: float, workers: int, seed: int,
    work_limit: float | None,
) -> PlanResult:  # fmt: skip
    started = time.perf_counter()
    rule, hint = best_dispatch(problem, "tardiness")
    result, _, _ = run_model(
        problem,
        plant_hash,
        objective="tardiness",
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        hint=hint,
        work_limit=work_limit,
        created_by=f"planner.plan_until_accepted (CP-SAT, {objective}, hint: {rule})",
        extra=_late_terms(problem, hint) if objective == "on-time" else None,
        hint_feasible=True,
        started=started,
    )
    return result


def _repair(
    plant: Plant,
    order: Order,
    ov: OrderVerdict,
    cause: str,
    repairs: _Repairs,
    stretched_now: set[str],
    overloaded: tuple[str, ...],
    strategy: int = 0,
) -> list[str]:
    """Repair one failing order by the cause its verdict blames; return what was changed.

    strategy 0: internal due, cause, priority; 1: cause and priority; 2: priority only (x4).
    """
    notes: list[str] = []
    current = repairs.due.get(order.id, order.due)
    if math.isfinite(current) and strategy == 0:
        lead = order.due - order.release
        # the mean lateness of the late runs: how far the plan must move for them to be on time
        late_share = max(1.0 - ov.on_time_probability, 0.1)
        step = min(max(ov.mean_lateness / late_share, REPAIR_MIN_SECONDS), 0.25 * lead)
        repairs.due[order.id] = max(order.release, current - step)
        notes.append(f"{order.id}: internal due {format_duration(step)} earlier")
    routing = plant.product_map[order.product].routing
    station: str | None = None
    if cause.startswith("queue:"):
        station = cause.split(":", 1)[1]
    elif cause == "breakdown":
        failing = [
            (plant.station_map[s].failures.availability, s)  # type: ignore[union-attr]
            for op in routing
            for s in op.stations
            if plant.station_map[s].failures is not None
        ]
        station = min(failing)[1] if failing else None
    if station is not None and strategy <= 1:
        ops = [op for op in routing if station in op.stations]
        banned = repairs.avoid.setdefault(order.id, set())
        others = [s for op in ops for s in op.stations if s != station and s not in banned]
        if ops and others:
            banned.add(station)
            notes.append(f"{order.id}: off {station} ({cause}) onto {', '.join(sorted(set(others)))}")
        elif station not in stretched_now and (cause == "breakdown" or station in overloaded or not ops):
            stretched_now.add(station)
            failures = plant.station_map[station].failures
            if station in repairs.stretch:
                repairs.stretch[station] *= STRETCH_STEP
            else:
                repairs.stretch[station] = 1 / failures.availability if failures is not None else STRETCH_STEP
            notes.append(
                f"buffer at {station}: planned times x{repairs.stretch[station]:.3f} ({cause} of {order.id})"
            )
    if strategy <= 1:
        notes += _split(plant, order, ov, cause, repairs)
    factor = 2 if strategy < 2 else 4
    if cause == "material":
        factor = 4
        mats = sorted({m for op in routing for m in op.consumes})
        notes.append(f"{order.id}: first claim on {', '.join(mats) or 'material'} (waited for material)")
    repairs.weight[order.id] = repairs.weight.get(order.id, 1) * factor
    notes.append(f"{order.id}: priority x{repairs.weight[order.id]} ({cause})")
    return notes


def flow_bound(plant: Plant, order: Order, ov: OrderVerdict, cause: str) -> bool:
    """Is the order's lateness a matter of flow time, one that overlapping its operations can
    recover? Yes when its own work is blamed; when that work (mean times, one lot through its
    routing) fills more than FLOW_SHARE of its window; or when the overlap could save at least
    its lateness (the lot's work at all operations but the longest one, against the mean
    lateness of its late runs)."""
    if cause in OWN_WORK:
        return True
    window = order.due - order.release
    works = [op.mean_time(order.quantity) for op in plant.product_map[order.product].routing]
    if math.isfinite(window) and sum(works) > FLOW_SHARE * window:
        return True
    late = ov.mean_lateness / max(1.0 - ov.on_time_probability, 0.1)
    return sum(works) - max(works) >= late


def _split(plant: Plant, order: Order, ov: OrderVerdict, cause: str, repairs: _Repairs) -> list[str]:
    """Lot splitting: move a flow-time-bound order on in (smaller) transfer batches."""
    routing = plant.product_map[order.product].routing
    if len(routing) < 2 or order.quantity < 2 or not flow_bound(plant, order, ov, cause):
        return []
    smallest = max(1, math.ceil(order.quantity / MAX_BATCHES))
    current = repairs.transfer.get(order.id)
    if current is None:
        floor_batch = min((op.transfer_batch for op in routing[:-1] if op.transfer_batch), default=None)
        size = max(smallest, math.ceil(order.quantity / FIRST_BATCHES))
        if floor_batch is not None and floor_batch <= size:
            size = max(smallest, floor_batch // 2)
    else:
        size = max(smallest, current // 2)
    if current is not None and size >= current:
        return [f"{order.id}: transfer batches already at {current} units (at most {MAX_BATCHES} per lot)"]
    repairs.transfer[order.id] = size
    return [
        f"{order.id}: lot split into transfer batches of {size} units "
        f"({cause}; its next operation starts on the first batch)"
    ]


def _why(
    report: IterationReport, problem: Problem, orders: dict[str, Order], policy: AcceptancePolicy
) -> str:
    """The evidence for orders that still fail: on-time share, blamed cause, own work vs window."""
    parts = []
    for oid in sorted(report.failing, key=lambda o: report.on_time[o]):
        text = f"{oid} ({report.on_time[oid]:.0%}, {report.causes.get(oid, '?')})"
        order = orders[oid]
        work = sum(op.duration for op in problem.chain(oid))
        window = order.due - order.release
        if math.isfinite(order.due) and work > window:
            text += f": its own work {format_duration(work)} exceeds its window {format_duration(window)}"
        parts.append(text)
    return f"{len(report.failing)} order(s) below {policy.min_on_time:.0%} on time: " + ", ".join(parts)


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
    target: tuple[str, float] | None = None,
    max_replications: int = 200,
) -> LoopResult:
    """Plan, check with the simulator, repair by cause and re-plan until accepted (see the module).

    `target=(kpi, half_width)`: each pass's check replicates until that KPI's 95% CI
    half-width is reached (`replications` the minimum, `max_replications` the maximum), as
    `sim.check` does; its verdict says how many ran.

    Raises:
        InfeasibleError: the order book admits no schedule at all.
        ValueError: max_iterations < 1.
    """
    if max_iterations < 1:
        raise ValueError("max_iterations must be at least 1")
    by_id = {o.id: o for o in orders}
    repairs = _Repairs()
    reports: list[IterationReport] = []
    changes: tuple[str, ...] = ()
    proof: str | None = None
    best: tuple[tuple[int, float], IterationReport, Problem] | None = None
    stale = 0
    strategy = 0
    triage = False
    best_repairs = copy.deepcopy(repairs)
    stopped_early = False
    plant_hash = plant.content_hash()
    for iteration in range(1, max_iterations + 1):
        problem = repairs.problem(plant, orders, live)
        objective = "on-time" if triage else "tardiness"
        result = _plan(problem, plant_hash, objective, time_limit, workers, seed, work_limit)
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
            target=target,
            max_replications=max_replications,
        )
        failing = tuple(o.order_id for o in verdict.orders if o.on_time_probability < policy.min_on_time)
        causes = {o.order_id: blamed_cause(o) for o in verdict.orders if o.order_id in failing}
        report = IterationReport(
            iteration=iteration,
            plan=result,
            verdict=verdict,
            changes=changes,
            on_time={o.order_id: o.on_time_probability for o in verdict.orders},
            failing=failing,
            causes=causes,
            objective=objective,
        )
        if verdict.accepted:
            reports.append(replace(report, best=iteration, note="accepted"))
            return LoopResult(
                result.schedule, verdict, True, tuple(reports), f"accepted after {iteration} pass(es)"
            )
        score = _score(verdict, policy)
        if best is None or score < best[0]:
            note = (
                "first pass"
                if best is None
                else f"better than pass {best[1].iteration} ({_compare(score, best[0])})"
            )
            best, stale, strategy = (score, report, problem), 0, 0
            best_repairs = copy.deepcopy(repairs)
            reports.append(replace(report, best=iteration, note=note))
        else:
            # worse or no better: go back to the best pass's repairs and try a gentler kind
            stale += 1
            strategy += 1
            repairs = copy.deepcopy(best_repairs)
            verdict = best[1].verdict
            why = (
                f"no better than pass {best[1].iteration} ({_compare(score, best[0])}): "
                "its changes did not help"
            )
            if stale >= PATIENCE:
                why += f"; {PATIENCE} passes in a row without improvement, the loop stops"
            else:
                why += f"; the next pass starts again from pass {best[1].iteration}'s repairs, " + (
                    "without moving internal due dates" if strategy == 1 else "with priority only"
                )
            reports.append(replace(report, best=best[1].iteration, note=why))
        if stale >= PATIENCE:
            stopped_early = True
            break
        # ---- repair, by cause ----
        notes: list[str] = []
        stretched_now: set[str] = set()
        at_risk = [ov for ov in verdict.orders if ov.on_time_probability < policy.min_on_time]
        if not at_risk:  # refused on the service level: repair the least reliable orders
            at_risk = sorted(
                (ov for ov in verdict.orders if ov.on_time_probability < 1.0),
                key=lambda ov: ov.on_time_probability,
            )[:SERVICE_REPAIRS]
        if stale:
            notes.append(f"back to the repairs of pass {best[1].iteration} (pass {iteration} was no better)")
        for ov in at_risk:
            notes += _repair(
                plant, by_id[ov.order_id], ov, blamed_cause(ov), repairs, stretched_now, verdict.overloaded,
                strategy,
            )  # fmt: skip
        triage = len(at_risk) > TRIAGE_SHARE * len(verdict.orders)
        changes = tuple(notes)
    assert best is not None
    _, report, problem = best
    stop = (
        f"{PATIENCE} passes in a row did not improve on pass {report.iteration}"
        if stopped_early
        else f"no schedule passed in {len(reports)} pass(es)"
    )
    reason = f"{stop}; best was pass {report.iteration} with {_why(report, problem, by_id, policy)}"
    if proof:
        reason += f"; {proof}"
    return LoopResult(report.plan.schedule, report.verdict, False, tuple(reports), reason)
