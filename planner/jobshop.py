"""The lean model of a pure job shop: the textbook CP-SAT formulation, nothing else.

A problem is a *pure job shop* when every lot has exactly one machine, no machine has
setups or blocked windows (calendars, maintenance), and no lot uses a secondary resource
or material, and the objective is the makespan. The general model (`planner.model`) is
then already close to the plain one, but not equal: it carries a presence literal and an
`exactly_one` per lot, a makespan over every lot's end, an objective scaled x100 and a
horizon with slack. Each of these changes CP-SAT's presolve and search a little, and on
the open instances (ta11, swv01, yn1) a little is the whole difference between two runs.

`build_jobshop_model` therefore builds, variable for variable and constraint for
constraint, the model of OR-Tools' `minimal_jobshop_sat.py` sample: per job and operation
in routing order a start, an end and a fixed-size interval; one `add_no_overlap` per
machine; the routing precedences; `makespan = max(last ends)`; minimise the makespan. The
horizon is the latest release plus the total work (the sample's sum of durations when
every job is released at 0). Given the same parameters, CP-SAT solves the same model the
same way (the comparison in `benchmarks/planner_quality.py` is then a tie by construction
at a deterministic limit); whatever the planner adds (the dispatch-rule hint) is measured
there against that baseline.
"""

from __future__ import annotations

import itertools
import re

from ortools.sat.python import cp_model

from planner.data import Problem
from planner.dispatch import Placement
from planner.model import AltVars, ModelVars, OpVars, streams


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders the numbers inside a name by value ("m2/0" before "m10/0")."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", text) if t)


def is_pure_job_shop(problem: Problem, objective: str) -> bool:
    """Whether the lean formulation is exact for `problem` under `objective` (see the module)."""
    if objective != "makespan" or not problem.ops or problem.supply or problem.reorders:
        return False
    if any(m.has_setups or m.blocked for m in problem.machines.values()):
        return False
    return all(
        op.fixed is None
        and len(op.alternatives) == 1
        and not op.resources
        and not op.consumes
        and not streams(op)  # overlapping operations are not the textbook precedence
        for op in problem.ops
    )


def build_jobshop_model(problem: Problem) -> tuple[cp_model.CpModel, ModelVars]:
    """The plain job-shop model of a pure job shop, objective set (minimise the makespan).

    The returned `ModelVars` read back like the general model's: `setup` is the constant 0
    and each lot's single alternative has the constant presence 1 (plain Python ints, so
    that the model holds no variable the plain formulation lacks).
    """
    model = cp_model.CpModel()
    mv = ModelVars()
    horizon = max(op.release for op in problem.ops) + sum(op.alternatives[0].duration for op in problem.ops)
    # variables, job by job in routing order (the sample's order)
    per_machine: dict[str, list[cp_model.IntervalVar]] = {mid: [] for mid in problem.machines}
    chains = [problem.chain(order_id) for order_id in problem.orders]
    for chain in chains:
        for op in chain:
            name = f"{op.order_id}#{op.op_index}"
            alt = op.alternatives[0]
            start = model.new_int_var(op.release, horizon, f"start[{name}]")
            end = model.new_int_var(op.release, horizon, f"end[{name}]")
            interval = model.new_interval_var(start, alt.duration, end, f"iv[{name}@{alt.machine_id}]")
            per_machine[alt.machine_id].append(interval)
            mv.ops[op.key] = OpVars(start, 0, end, [AltVars(1, interval)])  # type: ignore[arg-type]
    # one machine does one lot at a time (machines in natural order: m2 before m10, as the sample)
    for mid in sorted(per_machine, key=_natural):
        if per_machine[mid]:
            model.add_no_overlap(per_machine[mid])
    # routing order
    for chain in chains:
        for a, b in itertools.pairwise(chain):
            model.add(mv.ops[b.key].start >= mv.ops[a.key].end)
    # makespan: the latest job end
    mv.makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(mv.makespan, [mv.ops[chain[-1].key].end for chain in chains if chain])
    model.minimize(mv.makespan)
    return model, mv


def add_jobshop_hints(model: cp_model.CpModel, mv: ModelVars, hint: dict[tuple[str, int], Placement]) -> None:
    """Hint starts, ends and the makespan of a (complete or partial) set of placements."""
    for key, p in hint.items():
        ov = mv.ops[key]
        model.add_hint(ov.start, p.start)
        model.add_hint(ov.end, p.end)
    if hint and mv.makespan is not None and len(hint) == len(mv.ops):
        model.add_hint(mv.makespan, max(p.end for p in hint.values()))


def serial_schedule(problem: Problem) -> dict[tuple[str, int], Placement]:
    """Every lot after the previous one, job after job: feasible for any pure job shop, instantly.

    The fallback of a pure job shop when CP-SAT finds no solution in time (the dispatch rules
    would take tenths of a second of the limit on 400 lots; CP-SAT's own first solution comes
    within milliseconds, so this stands in only under absurdly small limits)."""
    out: dict[tuple[str, int], Placement] = {}
    t = 0
    for order_id in problem.orders:
        for op in problem.chain(order_id):
            t = max(t, op.release)
            out[op.key] = Placement(0, t, 0, t + op.alternatives[0].duration)
            t += op.alternatives[0].duration
    return out
