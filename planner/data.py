"""The scheduling problem as plain integer data: operations, alternatives, machines, time axis.

`build_problem` turns a plant, an order book and (optionally) the live state into a
`Problem` in *model time*: whole seconds on one axis that both the CP-SAT model and the
dispatch heuristics use, so a heuristic schedule is a valid CP-SAT hint as it stands.

Calendars (documented in docs/planner.md):
- `operations_span_breaks: true` and every station that has work follows the same
  calendar (or none): model time is *working time* of that calendar (off-shift time is cut
  out of the axis), so an operation pauses over a break and resumes, exactly; planned
  maintenance becomes a blocked window on the working-time axis (no operation overlaps it).
- `operations_span_breaks: false`, or stations on different calendars: model time is plant
  time and every off-shift period and maintenance window is a blocked interval on the
  station's machines, so an operation (with its setup) fits wholly inside one working
  interval. With `true` but mixed calendars this is stricter than the plant setting; the
  problem says so in `notes`.
Processing time of a lot = batch_time + planned quantity x mean unit time, rounded up to whole
seconds; the planned quantity includes the scrap allowance (`planner.yields`).
Materials with a reorder-point replenishment become `Reorder`s: the CP-SAT model and the
dispatch rules place the reorders by the simulator's rule (`planner.reorders`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from planner.yields import YIELD_CONFIDENCE, launch_quantity, planned_quantities
from twin.calendar import WorkingTime
from twin.errors import InfeasibleError, InputError, Issue
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant, Setups
from twin.timeutil import parse_time

MATERIAL_SCALE = 1000
"""Material quantities are modelled in thousandths (CP-SAT needs integers)."""


@dataclass(frozen=True)
class TimeAxis:
    """Plant seconds <-> model seconds. `working` None: identity; else working time of one calendar."""

    working: WorkingTime | None = None
    _cum: tuple[float, ...] = field(init=False, repr=False, compare=False)
    """Working seconds before each interval (and the total last)."""
    _starts: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cum = [0.0]
        if self.working is not None:
            for a, b in self.working.intervals:
                cum.append(cum[-1] + (b - a))
        object.__setattr__(self, "_cum", tuple(cum))
        object.__setattr__(
            self, "_starts", tuple(a for a, _ in self.working.intervals) if self.working else ()
        )

    @property
    def total(self) -> float:
        """Working seconds on the compiled axis (inf for the identity)."""
        return math.inf if self.working is None else self._cum[-1]

    def model(self, t: float) -> float:
        """Model time of plant time t (working seconds since plant second 0)."""
        if self.working is None:
            return t
        ivs = self.working.intervals
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0:
            return 0.0
        a, b = ivs[i]
        return self._cum[i] + min(t, b) - a

    def wall_start(self, w: float) -> float:
        """The plant time work at model time w starts (the next working instant)."""
        if self.working is None:
            return w
        cum = self._cum
        i = bisect.bisect_right(cum, w) - 1
        i = min(max(i, 0), len(self.working.intervals) - 1)
        return self.working.intervals[i][0] + (w - cum[i])

    def wall_end(self, w: float) -> float:
        """The plant time work ending at model time w is done (before a following break)."""
        if self.working is None:
            return w
        cum = self._cum
        i = bisect.bisect_left(cum, w) - 1
        i = min(max(i, 0), len(self.working.intervals) - 1)
        return self.working.intervals[i][0] + (w - cum[i])


@dataclass(frozen=True)
class Alternative:
    """One machine an operation may run on, and the lot's processing time there (whole seconds)."""

    station: str
    machine: int
    duration: int

    @property
    def machine_id(self) -> str:
        return f"{self.station}/{self.machine}"


@dataclass(frozen=True)
class Fixed:
    """An operation whose machine and times are given (under way on the floor)."""

    alternative: int
    start: int
    end: int
    setup: int = 0


@dataclass(frozen=True)
class Op:
    """One lot: an operation of an order, with its eligible machines and whole-second duration."""

    order_id: str
    op_index: int
    operation: str
    family: str
    quantity: int
    duration: int
    release: int
    alternatives: tuple[Alternative, ...]
    resources: dict[str, int] = field(default_factory=dict)
    consumes: dict[str, int] = field(default_factory=dict)
    fixed: Fixed | None = None
    transfer: int | None = None
    """Good units handed on to the next operation together (None: the whole lot; always None at
    an order's last operation and for a lot already under way)."""
    transfer_planned: bool = False
    """`transfer` is the plan's decision (written to `ScheduledOperation.transfer_batch`), not
    the plant routing step's."""
    units: float = 0.0
    """Expected units the lot works here (the planned quantity, scrap allowance included)."""
    batch_time: float = 0.0
    """The routing step's fixed time per lot (before stretch): the part of the work no unit carries."""
    unit_mean: float = 0.0
    """The routing step's mean seconds per unit (before stretch)."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.order_id, self.op_index)


@dataclass(frozen=True)
class MachineData:
    """A machine: its setup matrix, blocked windows (model time) and the family it starts with."""

    station: str
    machine: int
    setups: Setups
    blocked: tuple[tuple[int, int], ...] = ()
    start_family: str | None = None

    @property
    def machine_id(self) -> str:
        return f"{self.station}/{self.machine}"

    @property
    def has_setups(self) -> bool:
        s = self.setups
        return s.default > 0 or s.initial > 0 or any(v > 0 for row in s.matrix.values() for v in row.values())

    def setup(self, from_family: str | None, to_family: str) -> int:
        """Whole-second changeover (None: the first job; `start_family` if the machine has one)."""
        if from_family is None and self.start_family is not None:
            from_family = self.start_family
        return math.ceil(self.setups.time(from_family, to_family) - 1e-9)


@dataclass(frozen=True)
class OrderData:
    """An order in model time: due (None: no due date) and integer weight (x100)."""

    id: str
    release: int
    due: int | None
    weight: int
    due_wall: float


@dataclass(frozen=True)
class Reorder:
    """A material's reorder-point replenishment in model units (the simulator's rule, docs/plant-model.md).

    When the level falls to `point` and no reorder is outstanding, `quantity` is ordered and
    arrives `lead` model seconds later; at most `count` reorders are needed by the order book.
    Quantities are x MATERIAL_SCALE.
    """

    point: int
    quantity: int
    lead: int
    count: int
    origin: int
    """Model time from which reorders may be placed (now)."""


@dataclass(frozen=True)
class Problem:
    """Everything the model and the heuristics need, in model time (whole seconds)."""

    ops: tuple[Op, ...]
    orders: dict[str, OrderData]
    machines: dict[str, MachineData]
    capacities: dict[str, int]
    supply: dict[str, tuple[tuple[int, int], ...]]
    """Per material: (model time, +quantity x MATERIAL_SCALE) events, initial stock at time 0."""
    horizon: int
    axis: TimeAxis
    origin: int = 0
    """Model time of 'now' (the live state's time; 0 when planning from scratch)."""
    notes: tuple[str, ...] = ()
    reorders: dict[str, Reorder] = field(default_factory=dict)
    """Per material with a reorder-point replenishment: the policy, in model units."""

    def chain(self, order_id: str) -> list[Op]:
        return [op for op in self.ops if op.order_id == order_id]


def _maintenance_windows(plant: Plant, station_id: str, horizon: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for m in plant.station_map[station_id].maintenance:
        t = parse_time(m.start, plant.epoch)
        until = parse_time(m.until, plant.epoch) if m.until is not None else horizon
        while t < min(until, horizon):
            out.append((t, t + m.duration))
            if m.every is None:
                break
            t += m.every
    return out


def _off_intervals(wt: WorkingTime, horizon: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    t = 0.0
    for a, b in wt.intervals:
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if t < horizon:
        out.append((t, horizon))
    return out


def build_problem(
    plant: Plant,
    orders: Sequence[Order],
    live: LiveState | None = None,
    *,
    due_overrides: dict[str, float] | None = None,
    stretch: dict[str, float] | None = None,
    yield_confidence: float = YIELD_CONFIDENCE,
    transfer: dict[str, int] | None = None,
) -> Problem:
    """The problem for `orders` on `plant`, from `live` if given.

    Ops in `live.completed` are left out; ops in `live.in_progress` are fixed on their
    machine from their start to the end of their remaining work; nothing else starts
    before `live.time`. `due_overrides` (plant seconds) replace due dates (internal due
    dates of the repair loop); `stretch` multiplies the processing times on a station (the
    repair loop's time buffer at a station the simulator blames). Lot quantities include
    the scrap allowance for `yield_confidence` (see `planner.yields`). `transfer` (order id ->
    units) moves that order's lots on in transfer batches of that size (the repair loop's lot
    splitting; written into the schedule); else each routing step's `transfer_batch` applies.

    Raises:
        InputError: an order names a product the plant lacks.
        InfeasibleError: a lot cannot fit any working interval, or a material runs short.
    """
    stretch = stretch or {}
    due_overrides = due_overrides or {}
    transfer = transfer or {}
    notes: list[str] = []
    now = live.time if live is not None else 0.0
    completed = live.completed if live is not None else frozenset()
    progress = {(p.order_id, p.op_index): p for p in (live.in_progress if live else ())}

    # ---- data: lots with whole-second durations ----
    raw: list[tuple[Order, int, float, int]] = []  # order, op index, plant-time release, duration
    quantities: dict[tuple[str, int], float] = {}  # expected units of the main lot per operation
    work_total = 0
    for order in orders:
        product = plant.product_map.get(order.product)
        if product is None:
            raise InputError(Issue(f"order {order.id}: unknown product {order.product!r}", "<orders>"))
        launched = launch_quantity(product, order.quantity, plant.settings.scrap_policy, yield_confidence)
        for k, qty in enumerate(planned_quantities(product, launched)):
            quantities[(order.id, k)] = qty
        for k, operation in enumerate(product.routing):
            if (order.id, k) in completed:
                continue
            work = operation.batch_time + quantities[(order.id, k)] * operation.time.mean
            duration = math.ceil(work * max(stretch.get(s, 1.0) for s in operation.stations) - 1e-9)
            setup_max = max((_max_setup(plant.station_map[s].setups) for s in operation.stations), default=0)
            work_total += duration + setup_max
            raw.append((order, k, max(order.release, now), duration))
    used = sorted({s for o, k, _, _ in raw for s in plant.product_map[o.product].routing[k].stations})
    max_release = max((r for _, _, r, _ in raw), default=0.0)

    # ---- horizon and time axis, from the data ----
    calendars = {plant.calendar_name(s) for s in used}
    span = plant.settings.operations_span_breaks
    one_calendar = len(calendars) == 1 and None not in calendars
    if span and len(calendars) > 1:
        notes.append(
            "stations follow different calendars: operations are kept inside one working interval "
            "(stricter than operations_span_breaks: true)"
        )
    need = max_release + work_total + 1 + _supply_wait(plant, orders, quantities, now)
    plain_time = calendars <= {None} and not any(plant.station_map[s].maintenance for s in used)
    # without calendars or maintenance the work itself bounds the horizon (tight domains help CP-SAT)
    wall_h = float(need) if plain_time else max(need, 86400.0)
    axis = TimeAxis()
    station_wt: dict[str, WorkingTime] = {}
    for _ in range(40):
        station_wt = {s: plant.working_time(s, wall_h) for s in used}
        if span and one_calendar:
            axis = TimeAxis(next(iter(station_wt.values())))
            maint = sum(d for s in used for a, b in _maintenance_windows(plant, s, wall_h) for d in [b - a])
            if axis.total >= axis.model(max_release) + work_total + maint + 1:
                break
        else:
            worst = min((wt.working_seconds(max_release, wall_h) for wt in station_wt.values()), default=need)
            maint = max(
                (sum(b - a for a, b in _maintenance_windows(plant, s, wall_h)) for s in used), default=0
            )
            if worst >= work_total + maint + 1:
                break
        wall_h *= 2
    else:
        raise InfeasibleError("the calendars leave too little working time for the order book")
    horizon = math.ceil(axis.model(wall_h)) if axis.working else math.ceil(wall_h)

    def mt(t: float) -> int:
        return math.ceil(axis.model(t) - 1e-9)

    # ---- machines with blocked windows ----
    machines: dict[str, MachineData] = {}
    for s in used:
        station = plant.station_map[s]
        blocked_wall = _maintenance_windows(plant, s, wall_h)
        if not (span and one_calendar):
            blocked_wall += _off_intervals(station_wt[s], wall_h)
        blocked = _merge(
            [(mt(a), min(mt(b), horizon)) for a, b in blocked_wall if mt(b) > mt(a) and mt(a) < horizon]
        )
        for k in range(station.machines):
            machines[f"{s}/{k}"] = MachineData(s, k, station.setups, tuple(blocked))

    # ---- operations ----
    ops: list[Op] = []
    for order, k, release, duration in raw:
        operation = plant.product_map[order.product].routing[k]
        product = plant.product_map[order.product]
        alts = tuple(
            Alternative(
                s,
                m,
                math.ceil(
                    duration * stretch.get(s, 1.0) / max(stretch.get(x, 1.0) for x in operation.stations)
                    - 1e-9
                ),
            )
            for s in operation.stations
            for m in range(plant.station_map[s].machines)
        )
        fixed = None
        if (order.id, k) in progress:
            p = progress[(order.id, k)]
            alt = next((a for a in alts if (a.station, a.machine) == (p.station, p.machine)), None)
            if alt is None:
                raise InputError(
                    Issue(f"in-progress {order.id} op {k} is on {p.station}/{p.machine}: not eligible")
                )
            remaining = operation.batch_time + operation.time.mean * max(
                quantities[(order.id, k)] - p.done_units, 0
            )
            if p.done_units > 0:
                remaining -= operation.batch_time
            start = mt(p.started)
            end = max(mt(now) + math.ceil(max(remaining, 0.0)), start)
            fixed = Fixed(alts.index(alt), min(start, end), end)
        consumes = (
            {}
            if fixed
            is not None  # a lot under way took its material already (the live stock says what is left)
            else {
                m: math.ceil(q * quantities[(order.id, k)] * MATERIAL_SCALE - 1e-6)
                for m, q in operation.consumes.items()
            }
        )
        last = k + 1 == len(product.routing)
        planned_tb = transfer.get(order.id)
        tb = None if last or fixed is not None else (planned_tb or operation.transfer_batch)
        ops.append(
            Op(
                order_id=order.id,
                op_index=k,
                operation=operation.id,
                family=product.setup_family,
                quantity=_units(quantities[(order.id, k)], k),
                duration=duration,
                release=mt(release),
                alternatives=alts,
                resources=dict(operation.resources),
                consumes=consumes,
                fixed=fixed,
                transfer=tb,
                transfer_planned=tb is not None and planned_tb is not None,
                units=quantities[(order.id, k)],
                batch_time=operation.batch_time,
                unit_mean=operation.time.mean,
            )
        )
    if not (span and one_calendar):
        _check_fits(ops, machines, horizon)

    # ---- orders, resources, materials ----
    order_data: dict[str, OrderData] = {}
    for order in orders:
        due = due_overrides.get(order.id, order.due)
        order_data[order.id] = OrderData(
            id=order.id,
            release=mt(order.release),
            due=None if not math.isfinite(due) else math.floor(axis.model(due) + 1e-9),
            weight=max(1, round(order.weight * 100)),
            due_wall=order.due,
        )
    capacities = {r.id: r.capacity for r in plant.resources}
    supply, reorders = _supply(plant, ops, live, mt, axis)
    return Problem(
        ops=tuple(ops),
        orders=order_data,
        machines=machines,
        capacities=capacities,
        supply=supply,
        horizon=horizon,
        axis=axis,
        origin=mt(now),
        notes=tuple(notes),
        reorders=reorders,
    )


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _max_setup(setups: Setups) -> int:
    values = [setups.default, setups.initial, *(v for row in setups.matrix.values() for v in row.values())]
    return math.ceil(max(values))


def _check_fits(ops: list[Op], machines: dict[str, MachineData], horizon: int) -> None:
    """An operation that must fit one working interval but is longer than every one of them."""
    for op in ops:
        if op.fixed is not None:
            continue
        longest, fits = 0, False
        for alt in op.alternatives:
            m = machines[alt.machine_id]
            t = 0
            for a, b in [*m.blocked, (horizon, horizon)]:
                longest = max(longest, a - t)
                fits = fits or a - t >= alt.duration
                t = max(t, b)
        if not fits:
            raise InfeasibleError(
                f"order {op.order_id} operation {op.operation}: {op.duration} s of work does not fit in any "
                f"working interval (longest {longest} s) and operations may not span breaks"
            )


def _supply_wait(
    plant: Plant, orders: Sequence[Order], quantities: dict[tuple[str, int], float], now: float
) -> float:
    """Plant seconds the order book may wait for material: the last delivery, plus one lead time
    per reorder the demand can call for (reorders go out one after the other)."""
    demand: dict[str, float] = {}
    for order in orders:
        product = plant.product_map.get(order.product)
        for k, operation in enumerate(product.routing if product else ()):
            for m, q in operation.consumes.items():
                demand[m] = demand.get(m, 0.0) + q * quantities.get((order.id, k), 0.0)
    wait = 0.0
    for m, need in demand.items():
        material = plant.material_map[m]
        at = [parse_time(d.at, plant.epoch) - now for d in material.deliveries]
        wait = max(wait, *at, 0.0)
        rep = material.replenishment
        if rep is not None:
            wait += (
                math.floor(max(0.0, need - material.stock + rep.reorder_point) / rep.quantity) + 1
            ) * rep.lead_time
    return wait


def _units(expected: float, op_index: int) -> int:
    """Units a planned lot names: the launch quantity exactly at the first operation, else rounded."""
    return round(expected) if op_index == 0 else max(1, round(expected))


def _lead_in_model(axis: TimeAxis, lead: float) -> int:
    """A plant-time lead time on the model axis: the most working seconds any window of that length
    holds (on the working-time axis the arrival's model time depends on when the reorder is placed;
    the largest share never plans a delivery earlier than the floor gets it)."""
    if axis.working is None:
        return math.ceil(lead - 1e-9)
    ivs = axis.working.intervals
    candidates = [a for a, _ in ivs] + [b - lead for _, b in ivs]
    best = max((axis.model(t + lead) - axis.model(t) for t in candidates), default=lead)
    return math.ceil(best - 1e-9)


def _supply(
    plant: Plant, ops: list[Op], live: LiveState | None, mt: object, axis: TimeAxis
) -> tuple[dict[str, tuple[tuple[int, int], ...]], dict[str, Reorder]]:
    """Fixed supply events per consumed material (stock now, deliveries) and its reorder policy.

    Raises:
        InfeasibleError: a material runs short and has no replenishment.
    """
    to_model = mt  # callable plant time -> model time
    now = live.time if live is not None else 0.0
    out: dict[str, tuple[tuple[int, int], ...]] = {}
    reorders: dict[str, Reorder] = {}
    for mat_id in sorted({m for op in ops for m in op.consumes}):
        material = plant.material_map[mat_id]
        stock = live.stock.get(mat_id, material.stock) if live is not None else material.stock
        events = [(to_model(now), math.floor(stock * MATERIAL_SCALE))]
        for d in material.deliveries:
            at = parse_time(d.at, plant.epoch)
            if at >= now:
                events.append((to_model(at), math.floor(d.quantity * MATERIAL_SCALE)))
        demand = sum(op.consumes.get(mat_id, 0) for op in ops)
        short = demand - sum(q for _, q in events)
        rep = material.replenishment
        if rep is not None:
            point = math.floor(rep.reorder_point * MATERIAL_SCALE)
            qty = math.ceil(rep.quantity * MATERIAL_SCALE)
            # reorder k (1-based) needs the level at or below the point after k - 1 arrivals, so
            # consumption >= stock + (k - 1) x quantity - point: at most this many are ever placed
            count = max(0, (demand - events[0][1] + point) // qty + 1)
            if count:
                reorders[mat_id] = Reorder(
                    point, qty, _lead_in_model(axis, rep.lead_time), count, to_model(now)
                )
        elif short > 0:
            raise InfeasibleError(
                f"material {mat_id}: the order book needs {demand / MATERIAL_SCALE:g} {material.unit}, "
                f"stock and deliveries give {(demand - short) / MATERIAL_SCALE:g}"
            )
        out[mat_id] = tuple(sorted(events))
    return out, reorders
