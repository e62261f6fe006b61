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
Processing time of a lot = batch_time + quantity x mean unit time, rounded up to whole seconds.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

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
) -> Problem:
    """The problem for `orders` on `plant`, from `live` if given.

    Ops in `live.completed` are left out; ops in `live.in_progress` are fixed on their
    machine from their start to the end of their remaining work; nothing else starts
    before `live.time`. `due_overrides` (plant seconds) replace due dates (internal due
    dates of the repair loop); `stretch` multiplies the processing times on a station (the
    repair loop's time buffer at a station the simulator blames).

    Raises:
        InputError: an order names a product the plant lacks.
        InfeasibleError: a lot cannot fit any working interval, or a material runs short.
    """
    stretch = stretch or {}
    due_overrides = due_overrides or {}
    notes: list[str] = []
    now = live.time if live is not None else 0.0
    completed = live.completed if live is not None else frozenset()
    progress = {(p.order_id, p.op_index): p for p in (live.in_progress if live else ())}

    # ---- data: lots with whole-second durations ----
    raw: list[tuple[Order, int, float, int]] = []  # order, op index, plant-time release, duration
    work_total = 0
    for order in orders:
        product = plant.product_map.get(order.product)
        if product is None:
            raise InputError(Issue(f"order {order.id}: unknown product {order.product!r}", "<orders>"))
        for k, operation in enumerate(product.routing):
            if (order.id, k) in completed:
                continue
            duration = math.ceil(
                operation.mean_time(order.quantity) * max(stretch.get(s, 1.0) for s in operation.stations)
                - 1e-9
            )
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
    need = max_release + work_total + 1
    wall_h = max(need, 86400.0)
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
            remaining = operation.mean_time(max(order.quantity - p.done_units, 0))
            if p.done_units > 0:
                remaining -= operation.batch_time
            start = mt(p.started)
            end = max(mt(now) + math.ceil(max(remaining, 0.0)), start)
            fixed = Fixed(alts.index(alt), min(start, end), end)
        ops.append(
            Op(
                order_id=order.id,
                op_index=k,
                operation=operation.id,
                family=product.setup_family,
                quantity=order.quantity,
                duration=duration,
                release=mt(release),
                alternatives=alts,
                resources=dict(operation.resources),
                # a lot under way took its material already (the live stock says what is left)
                consumes={}
                if fixed is not None
                else {
                    m: math.ceil(q * order.quantity * MATERIAL_SCALE) for m, q in operation.consumes.items()
                },
                fixed=fixed,
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
    supply = _supply(plant, ops, live, mt)
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


def _supply(
    plant: Plant, ops: list[Op], live: LiveState | None, mt: object
) -> dict[str, tuple[tuple[int, int], ...]]:
    """Supply events per consumed material; a shortfall is covered by replenishment or refused."""
    to_model = mt  # callable plant time -> model time
    now = live.time if live is not None else 0.0
    out: dict[str, tuple[tuple[int, int], ...]] = {}
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
        if short > 0:
            if material.replenishment is None:
                raise InfeasibleError(
                    f"material {mat_id}: the order book needs {demand / MATERIAL_SCALE:g} {material.unit}, "
                    f"stock and deliveries give {(demand - short) / MATERIAL_SCALE:g}"
                )
            # Assumption: the shortfall is reordered now and arrives after the lead time.
            events.append((to_model(now + material.replenishment.lead_time), short))
        out[mat_id] = tuple(sorted(events))
    return out
