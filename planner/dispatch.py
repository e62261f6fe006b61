"""Dispatch-rule heuristics (EDD, SPT, ATC): a feasible schedule of the same `Problem` in well under a second.

A Giffler-Thompson style list scheduler: among lots whose routing predecessor is
placed, find the earliest possible completion c*; the lots that could start before c*
compete, the rule picks one, and it goes on the machine where it finishes first. Each
placement respects machine availability, sequence-dependent setups, blocked calendar
windows, secondary resources and material stock, so the result is feasible for the
CP-SAT model and serves as its warm-start hint.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from planner.data import Op, Problem, Reorder
from planner.reorders import triggers
from twin.errors import InfeasibleError

RULES = ("EDD", "SPT", "ATC")
ATC_K = 2.0
"""ATC look-ahead parameter (Vepsalainen & Morton): slack is scaled by k x mean processing time."""


@dataclass(frozen=True)
class Placement:
    """Where and when one lot runs, in model time."""

    alternative: int
    start: int
    setup: int
    end: int


@dataclass
class _Machine:
    free_at: int = 0
    family: str | None = None
    blocked_starts: list[int] = field(default_factory=list)
    blocked: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class _Usage:
    spans: list[tuple[int, int, int]] = field(default_factory=list)  # start, end, amount


def _blocked_conflict(m: _Machine, t: int, length: int) -> int | None:
    """End of a blocked window overlapping [t, t+length), if any."""
    i = bisect.bisect_right(m.blocked_starts, t + length - 1) - 1
    while i >= 0:
        a, b = m.blocked[i]
        if b <= t:
            return None
        if a < t + length and b > t and length > 0:
            return b
        i -= 1
    return None


def _resource_conflict(usage: _Usage, capacity: int, need: int, t: int, end: int) -> int | None:
    """Earliest end of a usage that makes [t, end) exceed capacity, if any."""
    points = [t] + [s for s, _, _ in usage.spans if t < s < end]
    for x in points:
        active = [(s, e, q) for s, e, q in usage.spans if s <= x < e]
        if sum(q for _, _, q in active) + need > capacity:
            return min(e for _, e, _ in active)
    return None


@dataclass
class _Stock:
    """A material during list scheduling: fixed supply, the draws placed so far, its reorder rule."""

    fixed: list[tuple[int, int]]
    rule: Reorder | None
    draws: list[tuple[int, int, int]] = field(default_factory=list)  # allocated at, taken at, quantity

    def arrivals(self, draws: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
        rule = self.rule
        if rule is None:
            return []
        placed = triggers(
            self.fixed,
            [(c, q) for c, _, q in draws],
            point=rule.point,
            quantity=rule.quantity,
            lead=rule.lead,
            count=rule.count,
            origin=rule.origin,
        )
        return [(t + rule.lead, rule.quantity) for t in placed]

    def shortage(self, extra: list[tuple[int, int, int]]) -> tuple[bool, list[int]]:
        """Whether the stock goes below 0 with `extra` draws added (and then the supply times)."""
        draws = self.draws + extra
        supply = self.fixed + self.arrivals(draws)
        steps: dict[int, int] = {}
        for t, q in supply:
            steps[t] = steps.get(t, 0) + q
        for _, t, q in draws:
            steps[t] = steps.get(t, 0) - q
        level = 0
        for t in sorted(steps):
            level += steps[t]
            if level < 0:
                return True, sorted({t for t, _ in supply})
        return False, []


def ready_at(problem: Problem, op: Op, placed: dict[tuple[str, int], Placement]) -> int:
    """When a lot reaches its station (and allocates its material): its predecessor's end, or its release."""
    chain = problem.chain(op.order_id)
    i = chain.index(op)
    return placed[chain[i - 1].key].end if i > 0 else op.release


def _material_start(op: Op, ready: int, t: int, stocks: dict[str, _Stock]) -> int | None:
    """The earliest start >= t at which the lot's kit is in stock for good (None: never)."""
    for _ in range(len(op.consumes) + 1):
        moved = False
        for mat, need in op.consumes.items():
            stock = stocks[mat]
            supply = {x for x, _ in stock.fixed} | {
                x for x, _ in stock.arrivals([*stock.draws, (ready, ready, need)])
            }
            for x in sorted({t} | {x for x in supply if x > t}):
                if not stock.shortage([(ready, x, need)])[0]:
                    moved = moved or x != t
                    t = x
                    break
            else:
                return None
        if not moved:
            return t
    return t


def dispatch(
    problem: Problem,
    rule: str = "EDD",
    priority: dict[tuple[str, int], tuple] | None = None,
    gates: dict[str, list[tuple[str, int]]] | None = None,
) -> dict[tuple[str, int], Placement]:
    """Place every lot by `rule`; return placements keyed by (order, op_index).

    `priority` (lower first) replaces the rule for the lots it names: the re-planner uses it
    to replay the current plan's sequence with rush lots slotted in. `gates` gives, per
    machine, lots that must go first there in that order (the frozen lots); a gated
    machine takes no other lot until they are placed.

    Raises:
        ValueError: an unknown rule.
        InfeasibleError: a lot cannot be placed within the horizon.
    """
    rule = rule.upper()
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    machines: dict[str, _Machine] = {}
    for mid, md in problem.machines.items():
        machines[mid] = _Machine(
            free_at=0,
            family=md.start_family,
            blocked_starts=[a for a, _ in md.blocked],
            blocked=list(md.blocked),
        )
    usage = {r: _Usage() for r in problem.capacities}
    stocks = {m: _Stock(list(ev), problem.reorders.get(m)) for m, ev in problem.supply.items()}
    placed: dict[tuple[str, int], Placement] = {}
    chains = {oid: problem.chain(oid) for oid in problem.orders}
    remaining_work = {oid: sum(op.duration for op in ch) for oid, ch in chains.items()}

    # in-progress lots first, exactly where they are
    for op in problem.ops:
        if op.fixed is None:
            continue
        f = op.fixed
        mid = op.alternatives[f.alternative].machine_id
        placed[op.key] = Placement(f.alternative, f.start, f.setup, f.end)
        machines[mid].free_at = max(machines[mid].free_at, f.end)
        machines[mid].family = op.family
        _book(op, placed[op.key], op.release, usage, stocks)
        remaining_work[op.order_id] -= op.duration
    nxt = {
        oid: next((i for i, op in enumerate(ch) if op.key not in placed), len(ch))
        for oid, ch in chains.items()
    }

    def earliest(op: Op, alt_index: int, ready: int) -> Placement:
        mid = op.alternatives[alt_index].machine_id
        m = machines[mid]
        setup = problem.machines[mid].setup(m.family, op.family)
        base = setup + op.alternatives[alt_index].duration
        t = max(ready, m.free_at, op.release)
        for _ in range(100000):
            length = base
            if op.consumes:
                at = _material_start(op, max(ready, op.release), t, stocks)
                if at is None:
                    mats = ", ".join(sorted(op.consumes))
                    raise InfeasibleError(f"material {mats} runs out before {op.order_id} can be made")
                t = at
            if t > problem.horizon:
                raise InfeasibleError(f"{op.order_id} op {op.op_index} cannot be placed within the horizon")
            bump = _blocked_conflict(m, t, length)
            if bump is None:
                for res, need in op.resources.items():
                    bump = _resource_conflict(usage[res], problem.capacities[res], need, t, t + length)
                    if bump is not None:
                        break
            if bump is None:
                return Placement(alt_index, t, setup, t + length)
            t = max(bump, t + 1)
        raise InfeasibleError(f"{op.order_id} op {op.op_index}: no slot found")

    total = sum(1 for op in problem.ops if op.key not in placed)
    for _ in range(total):
        candidates: list[tuple[Op, Placement]] = []
        for oid, ch in chains.items():
            i = nxt[oid]
            if i >= len(ch):
                continue
            op = ch[i]
            ready = placed[ch[i - 1].key].end if i > 0 else 0
            open_alts = [a for a in range(len(op.alternatives)) if _gate_open(op, a, gates, placed)]
            if not open_alts:
                continue
            best = min((earliest(op, a, ready) for a in open_alts), key=lambda p: (p.end, p.start))
            candidates.append((op, best))
        if not candidates:
            raise InfeasibleError("the frozen lots cannot be kept in their order (a routing crosses them)")
        c_star = min(p.end for _, p in candidates)
        conflict = [(op, p) for op, p in candidates if p.start < c_star] or candidates
        mean_p = sum(op.duration for op, _ in conflict) / len(conflict) or 1.0
        t_now = min(p.start for _, p in conflict)

        def key(item: tuple[Op, Placement], t_now: int = t_now, mean_p: float = mean_p) -> tuple:
            op, p = item
            due = problem.orders[op.order_id].due
            if priority is not None and op.key in priority:
                return (*priority[op.key], p.start, op.order_id, op.op_index)
            if rule == "EDD":
                score: float = due if due is not None else math.inf
            elif rule == "SPT":
                score = op.duration
            else:
                w = problem.orders[op.order_id].weight
                slack = (due - remaining_work[op.order_id] - t_now) if due is not None else math.inf
                urgency = math.exp(-max(0.0, slack) / (ATC_K * mean_p)) if math.isfinite(slack) else 0.0
                score = -(w / max(op.duration, 1)) * urgency
            return (3, score, p.start, op.order_id, op.op_index)

        op, p = min(conflict, key=key)
        placed[op.key] = p
        mid = op.alternatives[p.alternative].machine_id
        machines[mid].free_at = p.end
        machines[mid].family = op.family
        _book(op, p, ready_at(problem, op, placed), usage, stocks)
        remaining_work[op.order_id] -= op.duration
        nxt[op.order_id] += 1
    return placed


def _gate_open(
    op: Op, alt: int, gates: dict[str, list[tuple[str, int]]] | None, placed: dict[tuple[str, int], Placement]
) -> bool:
    """May `op` go on its alternative `alt` now (every gated lot ahead of it there placed)?"""
    if not gates:
        return True
    queue = gates.get(op.alternatives[alt].machine_id)
    if not queue:
        return True
    ahead = queue[: queue.index(op.key)] if op.key in queue else queue
    return all(k in placed for k in ahead)


def _book(op: Op, p: Placement, ready: int, usage: dict[str, _Usage], stocks: dict[str, _Stock]) -> None:
    for res, need in op.resources.items():
        if res in usage:
            usage[res].spans.append((p.start, p.end, need))
    for mat, need in op.consumes.items():
        stocks[mat].draws.append((ready, p.start, need))


def insert(
    problem: Problem,
    placed: dict[tuple[str, int], Placement],
    keys: list[tuple[str, int]],
    not_before: dict[str, int] | None = None,
) -> dict[tuple[str, int], Placement]:
    """Slot the lots `keys` into the gaps of a schedule whose other lots stay where they are.

    `placed` holds every other lot of `problem` (a feasible schedule of them); `keys` are placed
    in the order given (a lot's routing predecessor must be placed before it). Each goes on the
    eligible machine where it finishes first, into the earliest gap at or after
    `not_before[machine]` that holds its changeover and processing time, clear of blocked
    windows, within secondary resources and material stock (every other draw included). A lot
    already placed keeps its start; the lot after an inserted one on its machine takes its new
    changeover, and a gap is used only where that changeover is no longer than the old one. So
    the re-planner can keep the floor's plan as it is and add a rush order where there is room:
    no lot of the old plan moves.

    Raises:
        ValueError: a lot of `keys` comes before its routing predecessor, or another lot is missing.
        InfeasibleError: a lot finds no gap within the horizon, or its material never comes.
    """
    ops = {op.key: op for op in problem.ops}
    todo = set(keys)
    missing = [k for k in ops if k not in placed and k not in todo]
    if missing:
        raise ValueError(f"lots neither placed nor to insert: {missing[:3]}")
    out = dict(placed)
    not_before = not_before or {}
    for key in keys:
        op = ops[key]
        chain = problem.chain(op.order_id)
        i = chain.index(op)
        if i > 0 and chain[i - 1].key not in out:
            raise ValueError(f"{op.order_id} op {op.op_index} comes before its routing predecessor")
        ready = ready_at(problem, op, out)
        usage = {r: _Usage() for r in problem.capacities}
        stocks = {m: _Stock(list(ev), problem.reorders.get(m)) for m, ev in problem.supply.items()}
        for k, p in out.items():
            _book(ops[k], p, ready_at(problem, ops[k], out), usage, stocks)
        best: tuple[Placement, tuple[tuple[str, int], Placement] | None] | None = None
        for a, alt in enumerate(op.alternatives):
            got = _earliest_gap(problem, op, a, ready, out, usage, stocks, not_before.get(alt.machine_id, 0))
            if got is not None and (best is None or _sooner(got[0], best[0])):
                best = got
        if best is None:
            raise InfeasibleError(f"{op.order_id} op {op.op_index}: no gap in the plan within the horizon")
        out[key] = best[0]
        if best[1] is not None:
            out[best[1][0]] = best[1][1]
    return out


def _sooner(p: Placement, q: Placement) -> bool:
    return (p.end, p.start) < (q.end, q.start)


def _earliest_gap(
    problem: Problem,
    op: Op,
    a: int,
    ready: int,
    out: dict[tuple[str, int], Placement],
    usage: dict[str, _Usage],
    stocks: dict[str, _Stock],
    not_before: int,
) -> tuple[Placement, tuple[tuple[str, int], Placement] | None] | None:
    """The earliest placement of `op` on its alternative `a` between the lots already on that machine.

    Returns it with the next lot's new placement (its new changeover), or None if there is no room."""
    ops = {o.key: o for o in problem.ops}
    mid = op.alternatives[a].machine_id
    md = problem.machines[mid]
    m = _Machine(blocked_starts=[x for x, _ in md.blocked], blocked=list(md.blocked))
    seq = sorted((p.start, k) for k, p in out.items() if ops[k].alternatives[p.alternative].machine_id == mid)
    duration = op.alternatives[a].duration
    for pos in range(len(seq) + 1):
        prev = seq[pos - 1][1] if pos > 0 else None
        nxt = seq[pos][1] if pos < len(seq) else None
        setup = md.setup(ops[prev].family if prev is not None else None, op.family)
        length = setup + duration
        lo = max(ready, op.release, not_before, out[prev].end if prev is not None else 0)
        hi = problem.horizon
        after: tuple[tuple[str, int], Placement] | None = None
        if nxt is not None:
            n_op, n_p = ops[nxt], out[nxt]
            if n_op.fixed is not None:
                continue
            new_setup = md.setup(op.family, n_op.family)
            if new_setup > n_p.setup:
                continue
            hi = n_p.start
            n_duration = n_op.alternatives[n_p.alternative].duration
            n_end = n_p.start + new_setup + n_duration
            after = (nxt, Placement(n_p.alternative, n_p.start, new_setup, n_end))
        t = lo
        while t + length <= hi:
            if op.consumes:
                at = _material_start(op, max(ready, op.release), t, stocks)
                if at is None:
                    mats = ", ".join(sorted(op.consumes))
                    raise InfeasibleError(f"material {mats} runs out before {op.order_id} can be made")
                if at != t:
                    t = at
                    continue
            bump = _blocked_conflict(m, t, length)
            if bump is None:
                for res, need in op.resources.items():
                    bump = _resource_conflict(usage[res], problem.capacities[res], need, t, t + length)
                    if bump is not None:
                        break
            if bump is None:
                return Placement(a, t, setup, t + length), after
            t = max(bump, t + 1)
    return None
