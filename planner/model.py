"""The CP-SAT model of a `Problem`: a flexible job shop with setups, calendars, resources, materials.

Read in the order of OR-Tools' scheduling examples: variables in typed containers,
then constraints (alternatives, precedence, machines with sequence-dependent setups as
a circuit, blocked calendar windows, resources, materials), then the objective. Solving
and extracting live in `planner.solver`.

Per lot: block start `start`, changeover `setup`, end `end` = start + setup + duration
(model time). Per eligible machine: a presence literal and an optional interval over the
block. On a machine with setups, `add_circuit` chooses the sequence; the arc i -> j forces
`start_j >= end_i` and `setup_j = setup(family_i, family_j)`, so setups are exact, not
estimated. A lot's block starts after its routing predecessor ends (the changeover is
done once the parts are at the machine).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from planner.data import Alternative, MachineData, Op, Problem

OBJECTIVES = ("makespan", "tardiness", "mixed")


@dataclass
class AltVars:
    """The choice of one machine for one lot."""

    present: cp_model.IntVar
    interval: cp_model.IntervalVar


@dataclass
class OpVars:
    """A lot's variables: block start, changeover, end, and one entry per eligible machine."""

    start: cp_model.IntVar
    setup: cp_model.IntVar
    end: cp_model.IntVar
    alts: list[AltVars]


@dataclass
class ModelVars:
    """Everything the extractor and the re-planner read back, keyed by domain ids."""

    ops: dict[tuple[str, int], OpVars] = field(default_factory=dict)
    tardiness: dict[str, cp_model.IntVar] = field(default_factory=dict)
    makespan: cp_model.IntVar | None = None
    arcs: dict[str, list[tuple[int, int, cp_model.IntVar]]] = field(default_factory=dict)
    """Per machine with setups: circuit arcs (from node, to node, literal); node 0 is the depot."""
    nodes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Per machine with setups: the lot of node i (index i - 1)."""
    reorders: dict[str, list[ReorderVars]] = field(default_factory=dict)
    """Per material with a reorder policy: the possible reorders, in order."""


@dataclass
class ReorderVars:
    """One possible reorder: placed or not, when, and which allocations and deliveries it has seen."""

    placed: cp_model.IntVar
    time: cp_model.IntVar
    allocated: dict[tuple[str, int], cp_model.IntVar]
    """lot key -> the lot allocated its material by `time`."""
    delivered: dict[int, cp_model.IntVar]
    """index in the material's fixed events -> that event is at or before `time`."""


def _op_name(op: Op) -> str:
    return f"{op.order_id}#{op.op_index}"


def build_model(problem: Problem) -> tuple[cp_model.CpModel, ModelVars]:
    """Variables and constraints (no objective): see the module docstring."""
    model = cp_model.CpModel()
    mv = ModelVars()
    horizon = problem.horizon
    max_setup = {
        mid: max([m.setup(None, f) for f in _families(problem)] + [_matrix_max(m)])
        for mid, m in problem.machines.items()
    }

    # ---- variables ----
    per_machine: dict[str, list[tuple[Op, OpVars, AltVars]]] = {mid: [] for mid in problem.machines}
    for op in problem.ops:
        name = _op_name(op)
        ub_setup = max(max_setup[a.machine_id] for a in op.alternatives)
        if op.fixed is not None:
            start = model.new_constant(op.fixed.start)
            setup = model.new_constant(op.fixed.setup)
            end = model.new_constant(op.fixed.end)
        else:
            start = model.new_int_var(op.release, horizon, f"start[{name}]")
            # no changeover variable where no eligible machine has setups (a pure job shop
            # then gets the plain formulation: one fixed-size interval per lot)
            setup = (
                model.new_int_var(0, ub_setup, f"setup[{name}]")
                if any(problem.machines[a.machine_id].has_setups for a in op.alternatives)
                else model.new_constant(0)
            )
            end = model.new_int_var(op.release, horizon, f"end[{name}]")
        ov = OpVars(start, setup, end, [])
        for i, alt in enumerate(op.alternatives):
            single = len(op.alternatives) == 1 and not problem.machines[alt.machine_id].has_setups
            if op.fixed is None and single:
                present = model.new_constant(1)
                interval = model.new_interval_var(start, alt.duration, end, f"iv[{name}@{alt.machine_id}]")
            elif op.fixed is not None:
                present = model.new_constant(1 if i == op.fixed.alternative else 0)
                size = op.fixed.end - op.fixed.start
                interval = model.new_optional_interval_var(
                    start, size, end, present, f"iv[{name}@{alt.machine_id}]"
                )
            else:
                present = model.new_bool_var(f"on[{name}@{alt.machine_id}]")
                interval = model.new_optional_interval_var(
                    start, setup + alt.duration, end, present, f"iv[{name}@{alt.machine_id}]"
                )
            av = AltVars(present, interval)
            ov.alts.append(av)
            per_machine[alt.machine_id].append((op, ov, av))
        mv.ops[op.key] = ov

    # ---- constraints: one machine per lot; routing order ----
    for op in problem.ops:
        ov = mv.ops[op.key]
        model.add_exactly_one(a.present for a in ov.alts)
        if op.fixed is None and len(ov.alts) > 1:
            durations = {a.duration for a in op.alternatives}
            if len(durations) == 1:
                model.add(ov.end == ov.start + ov.setup + durations.pop())
            else:
                for alt, av in zip(op.alternatives, ov.alts, strict=True):
                    model.add(ov.end == ov.start + ov.setup + alt.duration).only_enforce_if(av.present)
    for order_id in problem.orders:
        chain = problem.chain(order_id)
        for a, b in itertools.pairwise(chain):
            if streams(a):
                add_transfer_precedence(model, mv, a, b)
            else:
                model.add(mv.ops[b.key].start >= mv.ops[a.key].end)

    # ---- machines: no overlap with each other or with blocked windows; setups on a circuit ----
    for mid, machine in problem.machines.items():
        entries = per_machine[mid]
        blocked = [
            model.new_fixed_size_interval_var(a, b - a, f"off[{mid}@{a}]")
            for a, b in machine.blocked
            if b > a
        ]
        model.add_no_overlap([av.interval for _, _, av in entries] + blocked)
        if not machine.has_setups:
            for op, ov, av in entries:
                if op.fixed is None and len(op.alternatives) > 1:
                    model.add(ov.setup == 0).only_enforce_if(av.present)
            continue
        arcs: list[tuple[int, int, cp_model.IntVar]] = []
        depot_empty = model.new_bool_var(f"empty[{mid}]")
        arcs.append((0, 0, depot_empty))
        # self-loops (i, i) use the negated presence literal, so they need no variable of their own
        for i, (op_i, ov_i, av_i) in enumerate(entries, start=1):
            arcs.append((i, i, ~av_i.present))
            first = model.new_bool_var(f"first[{mid}:{_op_name(op_i)}]")
            last = model.new_bool_var(f"last[{mid}:{_op_name(op_i)}]")
            arcs.append((0, i, first))
            arcs.append((i, 0, last))
            if op_i.fixed is None:
                model.add(ov_i.setup == machine.setup(None, op_i.family)).only_enforce_if(first)
            for j, (op_j, ov_j, _) in enumerate(entries, start=1):
                if i == j:
                    continue
                lit = model.new_bool_var(f"next[{mid}:{_op_name(op_i)}>{_op_name(op_j)}]")
                arcs.append((i, j, lit))
                model.add(ov_j.start >= ov_i.end).only_enforce_if(lit)
                if op_j.fixed is None:
                    model.add(ov_j.setup == machine.setup(op_i.family, op_j.family)).only_enforce_if(lit)
        model.add_circuit(arcs)
        mv.arcs[mid] = arcs
        mv.nodes[mid] = [op.key for op, _, _ in entries]

    # ---- secondary resources (operators, tools): cumulative over the block ----
    for res_id, capacity in problem.capacities.items():
        users = [op for op in problem.ops if op.resources.get(res_id, 0) > 0]
        if users:
            demands = [op.resources[res_id] for op in users]
            model.add_cumulative([_block(model, mv, op, horizon) for op in users], demands, capacity)

    # ---- redundant: a station of k identical machines is a cumulative of capacity k (a stronger bound) ----
    stations: dict[str, list[Op]] = {}
    for op in problem.ops:
        names = {a.station for a in op.alternatives}
        if len(names) == 1:
            stations.setdefault(names.pop(), []).append(op)
    for station, users in stations.items():
        k = sum(1 for m in problem.machines.values() if m.station == station)
        if k > 1 and len(users) > k:
            model.add_cumulative([_block(model, mv, op, horizon) for op in users], [1] * len(users), k)

    # ---- materials: stock never negative; reorders placed by the simulator's rule ----
    for mat_id, events in problem.supply.items():
        _material(model, problem, mv, mat_id, events)
    return model, mv


def streams(op: Op) -> bool:
    """Does the lot move on to its next operation in transfer batches (more than one batch)?"""
    return op.transfer is not None and op.fixed is None and op.transfer < op.quantity


def transfer_lags(pred: Op, pred_alt: Alternative, succ: Op, succ_alt: Alternative) -> tuple[int, int]:
    """(head, tail) in model seconds for a lot `pred` moving on to `succ` in transfer batches.

    Batch j (j = 1..n) holds `pred.transfer` good units (the last the rest) and arrives when
    `pred` has made them: at pred start + setup + batch time + share of its unit work. The
    successor starts unit (j-1)b + 1 no earlier than batch j's arrival, so (exactly, for the
    planned times):

    - head: succ start >= pred start + pred setup + head (the first batch's time on pred);
    - tail: succ end >= pred end + tail, tail = max over j of (succ's work on the units from
      batch j on) - (pred's work after batch j). That is the last batch's time on the
      successor when it is the slower stage or the batches are equal; with a short last
      batch behind a slower predecessor the batch before it can bind, and the max says so.

    Work is split as the planned durations are (stretch included, proportionally); the
    successor's setup and batch time come before its first unit, as on the floor.
    """
    b = pred.transfer
    assert b is not None
    q = max(succ.units, 1e-9)  # good units that arrive
    p_work = pred.batch_time + pred.units * pred.unit_mean
    p_scale = pred_alt.duration / p_work if p_work > 0 else 0.0
    p_units = pred.units * pred.unit_mean * p_scale  # pred's unit work on this machine
    s_work = succ.batch_time + succ.units * succ.unit_mean
    s_unit = succ.unit_mean * (succ_alt.duration / s_work if s_work > 0 else 0.0)
    head = pred.batch_time * p_scale + min(b / q, 1.0) * p_units
    n = max(1, math.ceil(q / b - 1e-9))
    tail = max((q - (j - 1) * b) * s_unit - (1.0 - min(j * b / q, 1.0)) * p_units for j in range(1, n + 1))
    return math.ceil(head - 1e-6), math.ceil(tail - 1e-6)


def add_transfer_precedence(model: cp_model.CpModel, mv: ModelVars, pred: Op, succ: Op) -> None:
    """Routing order for a lot that moves on in transfer batches (`transfer_lags`), per pair of
    machines the two lots may take (enforced by their presence literals)."""
    pv, sv = mv.ops[pred.key], mv.ops[succ.key]
    for pa, pav in zip(pred.alternatives, pv.alts, strict=True):
        for k, (sa, sav) in enumerate(zip(succ.alternatives, sv.alts, strict=True)):
            head, tail = transfer_lags(pred, pa, succ, sa)
            if k == 0:  # the head depends on the predecessor's machine only
                model.add(sv.start >= pv.start + pv.setup + head).only_enforce_if(pav.present)
            model.add(sv.end >= pv.end + tail).only_enforce_if([pav.present, sav.present])


def ready_time(problem: Problem, mv: ModelVars, op: Op) -> cp_model.LinearExprT:
    """When a lot reaches its station: its routing predecessor's end, else its release."""
    chain = problem.chain(op.order_id)
    i = chain.index(op)
    return mv.ops[chain[i - 1].key].end if i > 0 else op.release


def _material(
    model: cp_model.CpModel, problem: Problem, mv: ModelVars, mat_id: str, events: tuple[tuple[int, int], ...]
) -> None:
    """A reservoir (fixed supply, reorders, lots taking their kit at their start) and the reorder rule.

    Reorder k may be placed at time t_k only when the stock not allocated by then (fixed supply
    at or before t_k, the k - 1 earlier reorders, minus the need of every lot that reached its
    station by t_k) is at most the reorder point, and not before reorder k - 1 has arrived:
    never earlier than the simulator places it (`planner.reorders`).
    """
    users = [op for op in problem.ops if op.consumes.get(mat_id)]
    times: list[cp_model.LinearExprT] = [t for t, _ in events]
    changes: list[int] = [q for _, q in events]
    actives: list[cp_model.LinearExprT] = [1] * len(events)
    for op in users:
        times.append(mv.ops[op.key].start)
        changes.append(-op.consumes[mat_id])
        actives.append(1)
    top = sum(q for _, q in events)
    rule = problem.reorders.get(mat_id)
    if rule is not None:
        origin = rule.origin
        opening = sum(q for t, q in events if t <= origin)
        later = [(j, t, q) for j, (t, q) in enumerate(events) if t > origin]
        ready = {op.key: ready_time(problem, mv, op) for op in users}
        chain: list[ReorderVars] = []
        for k in range(rule.count):
            placed = model.new_bool_var(f"reorder[{mat_id}#{k}]")
            at = model.new_int_var(origin, problem.horizon, f"reorder_at[{mat_id}#{k}]")
            if chain:
                model.add_implication(placed, chain[-1].placed)
                model.add(at >= chain[-1].time + rule.lead).only_enforce_if(placed)
            model.add(at == origin).only_enforce_if(~placed)
            allocated = {}
            for op in users:
                lit = model.new_bool_var(f"allocated[{mat_id}#{k}:{_op_name(op)}]")
                model.add(ready[op.key] <= at).only_enforce_if(lit)
                allocated[op.key] = lit
            delivered = {}
            for j, t, _ in later:
                lit = model.new_bool_var(f"delivered[{mat_id}#{k}:{j}]")
                model.add(at <= t - 1).only_enforce_if(~lit)
                delivered[j] = lit
            taken = sum(op.consumes[mat_id] * allocated[op.key] for op in users)
            supplied = sum(q * delivered[j] for j, _, q in later)
            model.add(taken - supplied >= opening + k * rule.quantity - rule.point).only_enforce_if(placed)
            times.append(at + rule.lead)
            changes.append(rule.quantity)
            actives.append(placed)
            top += rule.quantity
            chain.append(ReorderVars(placed, at, allocated, delivered))
        mv.reorders[mat_id] = chain
    if len(times) > len(events):
        model.add_reservoir_constraint_with_active(times, changes, actives, 0, top)


def set_objective(
    model: cp_model.CpModel, problem: Problem, mv: ModelVars, objective: str
) -> cp_model.LinearExpr:
    """Add makespan / weighted tardiness variables; return the objective expression (not yet set).

    `mixed` is weighted tardiness plus makespan, both in seconds (weights are x100 internally).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    mv.makespan = model.new_int_var(0, problem.horizon, "makespan")
    model.add_max_equality(mv.makespan, [ov.end for ov in mv.ops.values()] or [0])
    weighted = []
    for order_id, od in problem.orders.items():
        chain = problem.chain(order_id)
        if od.due is None or not chain:
            continue
        tard = model.new_int_var(0, problem.horizon, f"tardiness[{order_id}]")
        model.add(tard >= mv.ops[chain[-1].key].end - od.due)
        mv.tardiness[order_id] = tard
        weighted.append(od.weight * tard)
    if objective == "makespan":
        return 100 * mv.makespan
    if objective == "tardiness":
        return sum(weighted) if weighted else cp_model.LinearExpr.constant(0)
    return sum(weighted) + 100 * mv.makespan


def _block(model: cp_model.CpModel, mv: ModelVars, op: Op, horizon: int) -> cp_model.IntervalVar:
    """The lot's block [start, end) as one (non-optional) interval, whatever machine it is on."""
    ov = mv.ops[op.key]
    durations = {a.duration for a in op.alternatives}
    if op.fixed is not None:
        size: cp_model.LinearExprT = op.fixed.end - op.fixed.start
    elif len(durations) == 1:
        size = ov.setup + durations.pop()
    else:
        size = model.new_int_var(min(durations), max(durations) + horizon, f"size[{_op_name(op)}]")
        model.add(size == ov.end - ov.start)
    return model.new_interval_var(ov.start, size, ov.end, f"block[{_op_name(op)}]")


def _families(problem: Problem) -> set[str]:
    return {op.family for op in problem.ops}


def _matrix_max(machine: MachineData) -> int:
    s = machine.setups
    values = [s.default, *(v for row in s.matrix.values() for v in row.values())]
    return math.ceil(max(values))
