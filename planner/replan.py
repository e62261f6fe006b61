"""Rush orders and re-planning: insert new orders with the least disruption to the plan on the floor.

From the live state: lots finished are dropped, lots under way are fixed where they run,
lots the current plan starts inside the frozen horizon [now, now + frozen_horizon] keep
their machine and their order on it (and go before any other lot there), the rest may
move. The objective is total weighted tardiness (rush orders weigh RUSH_WEIGHT times their
own weight, so meeting them comes first) plus `change_weight` x (seconds of start shift
+ MOVE_SECONDS per lot moved to another machine), all in seconds.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import fields, replace

from ortools.sat.python import cp_model

from planner.data import Problem, build_problem
from planner.dispatch import dispatch
from planner.model import ModelVars
from planner.results import Move, PlanResult, ReplanResult
from planner.solver import Placements, placements_from_schedule, run_model
from twin.errors import InfeasibleError, InputError, Issue
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation

RUSH_WEIGHT = 100
"""A rush order's tardiness counts this many times its weight."""
MOVE_SECONDS = 600
"""Penalty, in seconds of shift, for moving a lot to another machine."""


def _frozen_keys(
    problem: Problem, old: dict[tuple[str, int], ScheduledOperation], live: LiveState, frozen_horizon: float
) -> list[tuple[str, int]]:
    keys = []
    for op in problem.ops:
        s = old.get(op.key)
        if op.fixed is not None or s is None:
            continue
        if live.time <= s.start <= live.time + frozen_horizon and s.machine_id in [
            a.machine_id for a in op.alternatives
        ]:
            keys.append(op.key)
    return keys


def replan(
    plant: Plant,
    schedule: Schedule,
    orders: Sequence[Order],
    rush: Sequence[Order],
    live: LiveState,
    *,
    frozen_horizon: float = 7200.0,
    time_limit: float = 10.0,
    workers: int = 2,
    change_weight: float = 1.0,
    work_limit: float | None = None,
) -> ReplanResult:
    """Re-plan `orders` plus the `rush` orders from `live`, keeping the floor's near future.

    Raises:
        InputError: a rush order reuses an existing order id.
        InfeasibleError: the data admit no schedule.
    """
    existing = {o.id for o in orders}
    clash = [r.id for r in rush if r.id in existing]
    if clash:
        raise InputError(Issue(f"rush order id(s) already in the order book: {', '.join(clash)}", "<rush>"))
    rush_ids = {r.id for r in rush}
    started = time.perf_counter()
    # the plan's lot splitting (transfer batches the repair loop chose) is kept
    split = {o.order_id: o.transfer_batch for o in schedule.operations if o.transfer_batch}
    problem = build_problem(plant, [*orders, *rush], live, transfer=split)
    problem = replace(
        problem,
        orders={
            oid: replace(od, weight=od.weight * RUSH_WEIGHT) if oid in rush_ids else od
            for oid, od in problem.orders.items()
        },
    )
    old = {o.key: o for o in schedule.operations}
    frozen = _frozen_keys(problem, old, live, frozen_horizon)
    frozen_set = set(frozen)
    # a frozen lot keeps its machine: its only alternative
    problem = replace(
        problem,
        ops=tuple(
            replace(
                op, alternatives=tuple(a for a in op.alternatives if a.machine_id == old[op.key].machine_id)
            )
            if op.key in frozen_set
            else op
            for op in problem.ops
        ),
    )
    old_model = placements_from_schedule(problem, schedule)
    op_by_key = {op.key: op for op in problem.ops}
    cw = max(0, round(change_weight * 100))

    def setup_model(model: cp_model.CpModel, mv: ModelVars) -> None:
        # frozen lots: their machine, and their order on it, before any other lot there
        per_machine: dict[str, list[tuple[str, int]]] = {}
        for key in sorted(frozen, key=lambda k: old[k].start):
            op = op_by_key[key]
            alt = old_model[key].alternative
            per_machine.setdefault(op.alternatives[alt].machine_id, []).append(key)
        for mid, keys in per_machine.items():
            for a, b in itertools.pairwise(keys):
                model.add(mv.ops[b].start >= mv.ops[a].end)
            last_end = mv.ops[keys[-1]].end
            for op in problem.ops:
                if op.key in frozen_set or op.fixed is not None:
                    continue
                for i, alt in enumerate(op.alternatives):
                    if alt.machine_id == mid:
                        model.add(mv.ops[op.key].start >= last_end).only_enforce_if(
                            mv.ops[op.key].alts[i].present
                        )

    def extra(model: cp_model.CpModel, mv: ModelVars) -> cp_model.LinearExprT:
        terms = []
        for key, p in old_model.items():
            op = op_by_key[key]
            if op.fixed is not None:
                continue
            ov = mv.ops[key]
            shift = model.new_int_var(0, problem.horizon, f"shift[{key[0]}#{key[1]}]")
            model.add_abs_equality(shift, ov.start - p.start)
            if key in hint:
                model.add_hint(shift, abs(hint[key].start - p.start))
            terms.append(shift)
            terms.append(MOVE_SECONDS * (1 - ov.alts[p.alternative].present))
        return cw * sum(terms) if terms else cp_model.LinearExpr.constant(0)

    # the hint: replay the current plan's sequence (frozen lots first), rush lots by due date
    priority: dict[tuple[str, int], tuple] = {}
    for op in problem.ops:
        if op.key in frozen_set:
            priority[op.key] = (0, old[op.key].start)
        elif op.order_id in rush_ids:
            due = problem.orders[op.order_id].due
            priority[op.key] = (1, due if due is not None else math.inf)
        elif op.key in old:
            priority[op.key] = (2, old[op.key].start)
    gates: dict[str, list[tuple[str, int]]] = {}
    for key in sorted(frozen, key=lambda k: old[k].start):
        gates.setdefault(op_by_key[key].alternatives[0].machine_id, []).append(key)
    try:
        hint: Placements = dispatch(problem, "EDD", priority, gates)
        hint_feasible = True
    except InfeasibleError:
        hint, hint_feasible = dispatch(problem, "EDD", priority), False
    result, _, _ = run_model(
        problem,
        plant.content_hash(),
        objective="tardiness",
        time_limit=time_limit,
        workers=workers,
        seed=0,
        hint=hint,
        work_limit=work_limit,
        created_by=f"planner.replan (CP-SAT, frozen {frozen_horizon:g} s, rush {','.join(sorted(rush_ids))})",
        extra=extra,
        setup_model=setup_model,
        hint_feasible=hint_feasible,
        started=started,
    )
    base = {f.name: getattr(result, f.name) for f in fields(PlanResult)}
    if not result.schedule.operations:
        return ReplanResult(**base, frozen=tuple(frozen))
    new = {o.key: o for o in result.schedule.operations}
    moved = []
    for key, n in sorted(new.items()):
        o = old.get(key)
        if o is None or op_by_key[key].fixed is not None:
            continue
        if o.machine_id != n.machine_id:
            moved.append(Move(key[0], key[1], "machine", o.machine_id, n.machine_id, o.start, n.start))
        elif not math.isclose(o.start, n.start, abs_tol=0.5):
            moved.append(Move(key[0], key[1], "shifted", o.machine_id, n.machine_id, o.start, n.start))
    added = tuple(sorted(k for k in new if k[0] in rush_ids))
    dropped = tuple(sorted(k for k in old if k in live.completed))
    return ReplanResult(**base, moved=tuple(moved), frozen=tuple(frozen), added=added, dropped=dropped)
