"""Solve a plan: build the problem, warm-start from a dispatch rule, run CP-SAT, check status, extract.

`solve` is the planner's front door; `dispatch_schedule` the instant answer from a rule.
Both return the twin's `Schedule` (plant times, setup first inside [start, end)).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from ortools.sat.python import cp_model

from planner.data import Problem, build_problem
from planner.dispatch import RULES, Placement, dispatch, ready_at
from planner.jobshop import add_jobshop_hints, build_jobshop_model, is_pure_job_shop, serial_schedule
from planner.model import ModelVars, build_model, set_objective
from planner.reorders import triggers
from planner.results import PlanResult
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation

Placements = dict[tuple[str, int], Placement]
ExtraTerms = Callable[[cp_model.CpModel, ModelVars], cp_model.LinearExprT]


class _BestTime(cp_model.CpSolverSolutionCallback):
    """Records when the last improving solution arrived (time to best)."""

    def __init__(self) -> None:
        super().__init__()
        self.last: float | None = None

    def on_solution_callback(self) -> None:
        self.last = self.wall_time


def to_schedule(
    problem: Problem, placements: Placements, plant_hash: str, created_by: str, meta: dict
) -> Schedule:
    """Placements (model time) -> the twin's Schedule (plant time)."""
    axis = problem.axis
    ops = []
    for op in problem.ops:
        p = placements[op.key]
        alt = op.alternatives[p.alternative]
        start = axis.wall_start(p.start)
        end = axis.wall_end(p.end) if p.end > p.start else start
        ops.append(
            ScheduledOperation(
                order_id=op.order_id,
                op_index=op.op_index,
                operation=op.operation,
                station=alt.station,
                machine=alt.machine,
                start=float(start),
                end=float(max(end, start + p.setup)),
                setup=float(p.setup),
                quantity=op.quantity,
                transfer_batch=op.transfer if op.transfer_planned else None,
            )
        )
    return Schedule(tuple(ops), plant_hash=plant_hash, created_by=created_by, meta=meta)


def late_orders(problem: Problem, schedule: Schedule) -> tuple[str, ...]:
    """Orders whose planned completion is after their due time (plant time)."""
    done = schedule.completion()
    return tuple(
        sorted(oid for oid, od in problem.orders.items() if oid in done and done[oid] > od.due_wall + 1e-6)
    )


def objective_of(problem: Problem, placements: Placements, objective: str) -> float:
    """The objective (seconds, weights as given) of placements, as `set_objective` defines it."""
    makespan = max((p.end for p in placements.values()), default=0)
    tard = 0.0
    for oid, od in problem.orders.items():
        chain = problem.chain(oid)
        if od.due is None or not chain:
            continue
        tard += od.weight / 100 * max(0, placements[chain[-1].key].end - od.due)
    return {"makespan": float(makespan), "tardiness": tard, "mixed": tard + makespan}[objective]


def placements_from_schedule(problem: Problem, schedule: Schedule) -> Placements:
    """Model-time placements of the lots a schedule has (lots it lacks are left out)."""
    axis = problem.axis
    by_key = {o.key: o for o in schedule.operations}
    out: Placements = {}
    for op in problem.ops:
        s = by_key.get(op.key)
        if s is None:
            continue
        ids = [a.machine_id for a in op.alternatives]
        if s.machine_id not in ids:
            continue
        start = math.ceil(axis.model(s.start) - 1e-9)
        i = ids.index(s.machine_id)
        setup = round(s.setup)
        out[op.key] = Placement(i, start, setup, start + setup + op.alternatives[i].duration)
    return out


def best_dispatch(problem: Problem, objective: str) -> tuple[str, Placements]:
    """Run every rule; keep the best for `objective` (ties: the first rule)."""
    results = [(rule, dispatch(problem, rule)) for rule in RULES]
    return min(results, key=lambda r: objective_of(problem, r[1], objective))


def run_model(
    problem: Problem,
    plant_hash: str,
    *,
    objective: str,
    time_limit: float,
    workers: int,
    seed: int,
    hint: Placements | None,
    work_limit: float | None = None,
    created_by: str,
    extra: ExtraTerms | None = None,
    setup_model: Callable[[cp_model.CpModel, ModelVars], None] | None = None,
    hint_feasible: bool = False,
    started: float | None = None,
    verify_hint: bool = False,
    lean: bool = True,
    hint_in_model: bool = True,
    fallback: str = "dispatch-rule hint",
) -> tuple[PlanResult, ModelVars, cp_model.CpSolver]:
    """Build, hint, solve and extract one CP-SAT model of `problem`.

    `time_limit` counts from `started` (a `time.perf_counter()` value; default: now), so the
    time spent before the solve (building the problem, the dispatch rules, the model) is in it.

    With `hint_feasible` (a dispatch-rule schedule, feasible by construction), the hint is
    returned as a FEASIBLE schedule when CP-SAT finds no solution within the time limit.

    With `verify_hint`, CP-SAT only checks the (complete) hint: every hinted variable is fixed
    to its hinted value, so the answer is the hint itself (OPTIMAL when it meets the bound,
    FEASIBLE otherwise) or INFEASIBLE when the model rejects it. It is the model's own verdict on
    a schedule built elsewhere, at the cost of one presolve of a fixed model.

    A pure job shop under the makespan objective (no `extra`, no `setup_model`) gets the plain
    job-shop formulation of `planner.jobshop` unless `lean` is False (the general model, kept
    for the benchmark's comparison). With `hint_in_model` False the hint is not given to
    CP-SAT; it is only the fallback of `hint_feasible`.
    """
    t0 = time.perf_counter() if started is None else started
    # ---- model ----
    if lean and extra is None and setup_model is None and is_pure_job_shop(problem, objective):
        # the textbook formulation, exactly (planner.jobshop); its objective is not scaled
        model, mv = build_jobshop_model(problem)
        scale = 1
        if hint and hint_in_model:
            add_jobshop_hints(model, mv, hint)
    else:
        model, mv = build_model(problem)
        expr = set_objective(model, problem, mv, objective)
        if setup_model is not None:
            setup_model(model, mv)
        if extra is not None:
            expr = expr + extra(model, mv)
        model.minimize(expr)
        scale = 100
        if hint and hint_in_model:
            add_hints(model, problem, mv, hint)
    # ---- solve ----
    solver = cp_model.CpSolver()
    # the limit covers everything since `started` (problem, dispatch-rule hint, model build)
    solver.parameters.max_time_in_seconds = max(0.05, float(time_limit) - (time.perf_counter() - t0))
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    # A library must not take over the process's Ctrl-C: CP-SAT's own SIGINT handler resets
    # SIGINT to 'terminate' when a solve ends, killing services that plan on a worker thread.
    solver.parameters.catch_sigint_signal = False
    if verify_hint:
        solver.parameters.fix_variables_to_their_hinted_value = True
    if work_limit is not None:
        # A deterministic limit with interleaved workers makes the search reproducible run to
        # run (a wall-clock limit does not: the plan depends on the machine's load).
        solver.parameters.max_deterministic_time = float(work_limit)
        solver.parameters.interleave_search = True
    best = _BestTime()
    status = solver.solve(model, best)
    seconds = time.perf_counter() - t0
    name = solver.status_name(status)
    notes = problem.notes
    # ---- status check before reading values ----
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if (
            status == cp_model.UNKNOWN
            and hint_feasible
            and hint is not None
            and len(hint) == len(problem.ops)
        ):
            # No CP-SAT solution in time, but the dispatch-rule hint is a feasible schedule.
            placements = dict(hint)
            obj = objective_of(problem, placements, objective)
            # the bound is comparable only when the objective has no extra (re-plan) terms
            bound = (
                max(0.0, solver.best_objective_bound / scale)
                if math.isfinite(solver.best_objective_bound) and extra is None
                else None
            )
            status_name = "FEASIBLE"
            notes = (
                *notes,
                f"CP-SAT found no solution within the time limit: the schedule is the fallback ({fallback})",
            )
        else:
            empty = Schedule((), plant_hash=plant_hash, created_by=created_by, meta={"status": name})
            bound = None if status != cp_model.INFEASIBLE else math.inf
            result = PlanResult(empty, name, None, bound, None, seconds, (), 0.0, None, notes)
            return result, mv, solver
    else:
        # ---- extract ----
        placements = {}
        for op in problem.ops:
            ov = mv.ops[op.key]
            alt = next(i for i, av in enumerate(ov.alts) if solver.boolean_value(av.present))
            placements[op.key] = Placement(
                alt, solver.value(ov.start), solver.value(ov.setup), solver.value(ov.end)
            )
        obj = solver.objective_value / scale
        bound = solver.best_objective_bound / scale
        status_name = name
    if bound is None:
        gap = None
    elif status == cp_model.OPTIMAL:
        gap = 0.0
    else:
        gap = max(0.0, (obj - bound) / abs(obj)) if obj else 0.0
    name = status_name
    meta = {
        "objective": objective,
        "status": name,
        "objective_value": obj,
        "bound": bound,
        "gap": gap,
        "solver_seconds": solver.wall_time,
        "time_limit": time_limit,
        "work_limit": work_limit,
        "workers": workers,
        "seed": seed,
        "notes": list(notes),
    }
    schedule = to_schedule(problem, placements, plant_hash, created_by, meta)
    result = PlanResult(
        schedule=schedule,
        status=name,
        objective=obj,
        bound=bound,
        gap=gap,
        seconds=seconds,
        late_orders=late_orders(problem, schedule),
        makespan=schedule.makespan,
        time_to_best=best.last,
        notes=notes,
    )
    return result, mv, solver


def _is_constant(model: cp_model.CpModel, var: cp_model.IntVar) -> bool:
    domain = model.proto.variables[var.index].domain
    return len(domain) == 2 and domain[0] == domain[1]


def add_hints(model: cp_model.CpModel, problem: Problem, mv: ModelVars, hint: Placements) -> None:
    """Hint every decision the placements imply: machines, times, circuit arcs, tardiness, makespan.

    A complete hint lets CP-SAT start from a feasible solution at once instead of repairing
    a partial one (measured on the demo plant: no solution in 4 s with a partial hint)."""
    ops = {op.key: op for op in problem.ops}
    for key, p in hint.items():
        ov = mv.ops[key]
        if ops[key].fixed is not None:
            continue
        model.add_hint(ov.start, p.start)
        if not _is_constant(model, ov.setup):  # constants (no setups, one machine) are shared
            model.add_hint(ov.setup, p.setup)
        model.add_hint(ov.end, p.end)
        if len(ov.alts) > 1:
            for i, av in enumerate(ov.alts):
                model.add_hint(av.present, i == p.alternative)
    if len(hint) < len(problem.ops):
        return
    for mid, arcs in mv.arcs.items():
        nodes = mv.nodes[mid]
        on = sorted(
            (hint[k].start, n)
            for n, k in enumerate(nodes, start=1)
            if ops[k].alternatives[hint[k].alternative].machine_id == mid
        )
        seq = [n for _, n in on]
        succ = dict(zip([0, *seq], [*seq, 0], strict=True)) if seq else {0: 0}
        for i, j, lit in arcs:
            if i == j and i != 0:
                continue
            model.add_hint(lit, succ.get(i) == j)
    ends = {k: p.end for k, p in hint.items()}
    for oid, var in mv.tardiness.items():
        chain = problem.chain(oid)
        due = problem.orders[oid].due
        assert due is not None
        model.add_hint(var, max(0, ends[chain[-1].key] - due))
    if mv.makespan is not None:
        model.add_hint(mv.makespan, max(ends.values(), default=0))
    for mat_id, chain in mv.reorders.items():
        rule = problem.reorders[mat_id]
        events = problem.supply[mat_id]
        ready = {op.key: ready_at(problem, op, hint) for op in problem.ops if op.consumes.get(mat_id)}
        placed = triggers(
            events,
            [(ready[op.key], op.consumes[mat_id]) for op in problem.ops if op.key in ready],
            point=rule.point,
            quantity=rule.quantity,
            lead=rule.lead,
            count=rule.count,
            origin=rule.origin,
        )
        for k, rv in enumerate(chain):
            at = placed[k] if k < len(placed) else None
            model.add_hint(rv.placed, at is not None)
            model.add_hint(rv.time, rule.origin if at is None else at)
            for key, lit in rv.allocated.items():
                model.add_hint(lit, at is not None and ready[key] <= at)
            for j, lit in rv.delivered.items():
                model.add_hint(lit, at is not None and events[j][0] <= at)


def solve(
    plant: Plant,
    orders: Sequence[Order],
    *,
    objective: str = "makespan",
    time_limit: float = 10.0,
    workers: int = 2,
    hint: Schedule | None = None,
    live: LiveState | None = None,
    seed: int = 0,
    work_limit: float | None = None,
) -> PlanResult:
    """Plan `orders` on `plant` with CP-SAT (warm-started from `hint`, else the best dispatch rule).

    objective: "makespan", "tardiness" (total weighted tardiness) or "mixed" (their sum).
    work_limit: CP-SAT deterministic seconds; when given, the same inputs give the same plan
    on any machine load (`time_limit` then only caps the wall time).

    Raises:
        ValueError: an unknown objective.
        InputError: an order for a product the plant lacks.
        InfeasibleError: the data admit no schedule (a lot longer than any working interval,
            a material short with no replenishment).
    """
    started = time.perf_counter()
    if objective not in ("makespan", "tardiness", "mixed"):
        raise ValueError(f"objective must be makespan, tardiness or mixed, got {objective!r}")
    problem = build_problem(plant, orders, live)
    return solve_problem(
        problem,
        plant.content_hash(),
        objective=objective,
        time_limit=time_limit,
        workers=workers,
        hint=hint,
        seed=seed,
        work_limit=work_limit,
        started=started,
    )


def solve_problem(
    problem: Problem,
    plant_hash: str,
    *,
    objective: str,
    time_limit: float,
    workers: int,
    hint: Schedule | None,
    seed: int,
    work_limit: float | None = None,
    started: float | None = None,
) -> PlanResult:
    """`solve` on a built problem; `time_limit` counts from `started` (default: now)."""
    started = time.perf_counter() if started is None else started
    # A pure job shop gets the plain formulation and no dispatch-rule hint: measured at equal
    # deterministic limits (benchmarks/planner_quality.py --ablation, 0.3 and 0.5), the rules'
    # schedules (20-40 % above the optimum) as hint made the plain model's makespan worse on
    # ta11, swv01, yn1 and orb01 at both (by 3-24 %), on ft10 at 0.3 (equal at 0.5); running them costs
    # tenths of a second of the limit. An instant serial schedule stands in if CP-SAT finds
    # nothing in time.
    pure = is_pure_job_shop(problem, objective)
    if hint is not None:
        placements = placements_from_schedule(problem, hint)
        rule = "schedule"
    elif pure:
        rule, placements = "serial", serial_schedule(problem)
    else:
        rule, placements = best_dispatch(problem, objective)
    warm = hint is not None or not pure
    what = f"hint: {rule}" if warm else "plain job-shop model, no hint"
    result, _, _ = run_model(
        problem,
        plant_hash,
        objective=objective,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        hint=placements,
        work_limit=work_limit,
        created_by=f"planner.solve (CP-SAT, {objective}, {what})",
        hint_feasible=hint is None,
        started=started,
        hint_in_model=warm,
        fallback="dispatch-rule hint" if warm else "jobs one after another",
    )
    return result


def dispatch_schedule(
    plant: Plant, orders: Sequence[Order], *, rule: str = "EDD", live: LiveState | None = None
) -> Schedule:
    """An instant schedule by a dispatch rule (EDD, SPT or ATC); feasible for the same model.

    Raises:
        ValueError: an unknown rule.
        InfeasibleError: the data admit no schedule.
    """
    problem = build_problem(plant, orders, live)
    placements = dispatch(problem, rule)
    return to_schedule(
        problem,
        placements,
        plant.content_hash(),
        f"planner.dispatch ({rule.upper()})",
        {"rule": rule.upper()},
    )
