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
from collections.abc import Callable, Sequence
from dataclasses import fields, replace

from ortools.sat.python import cp_model

from planner.data import Op, Problem, build_problem
from planner.dispatch import Placement, dispatch, insert
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


def _frozen_by_machine(
    frozen: list[tuple[str, int]],
    op_by_key: dict[tuple[str, int], Op],
    old: dict[tuple[str, int], ScheduledOperation],
) -> dict[str, list[tuple[str, int]]]:
    """Per machine, its frozen lots in their current order (a frozen lot's one alternative: its machine)."""
    out: dict[str, list[tuple[str, int]]] = {}
    for key in sorted(frozen, key=lambda k: old[k].start):
        out.setdefault(op_by_key[key].alternatives[0].machine_id, []).append(key)
    return out


def _cost(problem: Problem, placements: Placements, old_model: Placements, cw: int) -> int:
    """The re-plan's objective of `placements`, in the model's units (as CP-SAT would score them)."""
    tardiness = 0
    for oid, od in problem.orders.items():
        chain = problem.chain(oid)
        if od.due is not None and chain:
            tardiness += od.weight * max(0, placements[chain[-1].key].end - od.due)
    fixed = {op.key for op in problem.ops if op.fixed is not None}
    change = 0
    for key, p in old_model.items():
        if key in fixed:
            continue
        q = placements[key]
        change += abs(q.start - p.start) + (MOVE_SECONDS if q.alternative != p.alternative else 0)
    return tardiness + cw * change


def _slot_in(
    problem: Problem,
    old_model: Placements,
    rush_ids: set[str],
    frozen: set[tuple[str, int]],
    not_before: dict[str, int],
) -> Placements | None:
    """The current plan kept as it is, with the rush lots (and any lot it cannot keep) slotted into its gaps.

    Lots under way stay where they are. The others are taken in the order of their current
    start: a lot is kept at its current place when it is not a rush lot, starts at or after its
    release, its routing predecessor's end (the predecessor kept) and the end of the lot kept
    before it on its machine, with the changeover that lot implies, clear of blocked windows,
    and (on a machine with frozen lots, unless frozen itself) after the last frozen lot there.
    The rest are inserted by `planner.dispatch.insert`, rush orders first (by due date), then
    the others by their current start. None when a lot finds no gap. The result is a candidate:
    the model confirms it before it is used (`run_model(verify_hint=True)`).
    """
    ops = {op.key: op for op in problem.ops}
    kept: Placements = {}
    last_on: dict[str, tuple[str, int]] = {}
    for op in problem.ops:
        if op.fixed is not None:
            f = op.fixed
            kept[op.key] = Placement(f.alternative, f.start, f.setup, f.end)
            mid = op.alternatives[f.alternative].machine_id
            if mid not in last_on or kept[last_on[mid]].end <= f.end:
                last_on[mid] = op.key
    todo: list[tuple[tuple, tuple[str, int]]] = []
    broken: set[str] = set(rush_ids)
    candidates = sorted((p.start, p.end, k) for k, p in old_model.items() if ops[k].fixed is None)
    for _, _, key in candidates:
        op, p = ops[key], old_model[key]
        alt = op.alternatives[p.alternative]
        md = problem.machines[alt.machine_id]
        chain = problem.chain(op.order_id)
        i = chain.index(op)
        before = last_on.get(alt.machine_id)
        setup = md.setup(ops[before].family if before is not None else None, op.family)
        ok = (
            op.order_id not in broken
            and p.start >= op.release
            and (i == 0 or (chain[i - 1].key in kept and kept[chain[i - 1].key].end <= p.start))
            and (before is None or kept[before].end <= p.start)
            and (key in frozen or p.start >= not_before.get(alt.machine_id, 0))
            and setup == p.setup
            and p.end == p.start + setup + alt.duration
            and not any(x < p.end and y > p.start for x, y in md.blocked)
        )
        if ok:
            kept[key] = p
            last_on[alt.machine_id] = key
        else:
            broken.add(op.order_id)
    for op in problem.ops:
        if op.key in kept:
            continue
        od = problem.orders[op.order_id]
        if op.order_id in rush_ids:
            group: tuple = (0, od.due if od.due is not None else math.inf, op.order_id)
        else:
            group = (
                1,
                min(
                    (old_model[o.key].start for o in problem.chain(op.order_id) if o.key in old_model),
                    default=math.inf,
                ),
                op.order_id,
            )
        todo.append(((*group, op.op_index), op.key))
    try:
        return insert(problem, kept, [k for _, k in sorted(todo)], not_before)
    except InfeasibleError:
        return None


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
        for mid, keys in frozen_on.items():
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

    def extra_for(hint: Placements) -> Callable[[cp_model.CpModel, ModelVars], cp_model.LinearExprT]:
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

        return extra

    frozen_on = _frozen_by_machine(frozen, op_by_key, old)
    gate_end = {mid: max(old_model[k].end for k in keys) for mid, keys in frozen_on.items()}
    created_by = f"planner.replan (CP-SAT, frozen {frozen_horizon:g} s, rush {','.join(sorted(rush_ids))})"

    def solve_with(hint: Placements, hint_feasible: bool, verify: bool = False) -> PlanResult:
        result, _, _ = run_model(
            problem,
            plant.content_hash(),
            objective="tardiness",
            time_limit=time_limit,
            workers=workers,
            seed=0,
            hint=hint,
            work_limit=work_limit,
            created_by=created_by + (": rush lots slotted into the plan's gaps" if verify else ""),
            extra=extra_for(hint),
            setup_model=setup_model,
            hint_feasible=hint_feasible,
            started=started,
            verify_hint=verify,
        )
        return result

    # First try: keep every lot of the current plan where it is and slot the rush lots into its
    # gaps, confirmed by the model (all variables fixed to it: a presolve, no search). When it
    # costs nothing (no order late, no lot moved) it is optimal, every term of the objective
    # being >= 0: no search at all. Otherwise it is one of the search's two candidate starts.
    slotted = _slot_in(problem, old_model, rush_ids, frozen_set, gate_end)
    slotted_cost: int | None = None
    result: PlanResult | None = None
    if slotted is not None:
        confirmed = solve_with(slotted, hint_feasible=False, verify=True)
        if confirmed.status in ("OPTIMAL", "FEASIBLE"):  # the model accepts it
            slotted_cost = _cost(problem, slotted, old_model, cw)
            if slotted_cost == 0:
                result = confirmed
    if result is None:
        # the search, from the better of two feasible starts: the slotted plan, or the current
        # plan's sequence replayed (frozen lots first) with the rush lots by due date
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
        if (
            slotted is not None
            and slotted_cost is not None
            and (not hint_feasible or slotted_cost < _cost(problem, hint, old_model, cw))
        ):
            hint, hint_feasible = slotted, True
        result = solve_with(hint, hint_feasible)
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
