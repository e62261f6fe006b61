"""Applying changes: plant + order book + changes -> new plant + order book, a pure function.

Each change is checked against the plant as it stands after the changes before it
(so a variant may add a station and then route work to it), then applied by
rebuilding the frozen models it touches. The result is re-checked with
`twin.checks.check_plant`, so a variant can never produce a plant the loader
would refuse. Problems carry a field path relative to the change, so the loader
of scenario files can name the file and line (`scenarios.files`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from scenarios.model import (
    AddMachine,
    AddOrder,
    AddShift,
    AddStation,
    BufferSize,
    CancelOrder,
    Change,
    CycleTime,
    DeliverySlip,
    MoveDue,
    Operators,
    RemoveShift,
    RemoveStation,
    RepairTime,
    Reroute,
    ScaleDemand,
    StationDown,
    Yield,
)
from twin.bounds import MAX_TIME_OFFSET, out_of_range, years
from twin.calendar import CalendarException
from twin.checks import check_plant
from twin.distributions import check_duration
from twin.errors import InputError, Issue
from twin.loader import friendly_message, order_quantity_limit
from twin.orders import Order
from twin.plant import (
    Delivery,
    Failures,
    Maintenance,
    Operation,
    Plant,
    Product,
    Station,
)
from twin.timeutil import parse_time, to_datetime
from twin.yamlsource import format_path

Problem = tuple[tuple[str | int, ...], str]
"""(field path inside the change, message)."""
M = TypeVar("M", bound=BaseModel)


class ChangeProblem(Exception):
    """A change that does not fit the plant: carries (path, message) rows."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(m for _, m in problems))


def rebuild(model: M, **update: Any) -> M:
    """A validated copy of a frozen model with some fields replaced.

    Unlike `model_copy(update=...)` this runs the validators and gives a fresh
    instance, so cached lookups (`Plant.station_map`) are never stale.
    """
    values = {name: getattr(model, name) for name in type(model).model_fields}
    values.update(update)
    return type(model).model_validate(values)


def apply_changes(
    plant: Plant, orders: Sequence[Order], changes: Sequence[Change], *, now: float = 0.0
) -> tuple[Plant, list[Order]]:
    """The plant and order book after `changes`, in order (inputs are not modified).

    Raises:
        InputError: a change does not fit (unknown station, product, order, ...) or the
            resulting plant fails the plant checks; issues name `changes[i].field`.
    """
    return apply_located(
        plant,
        orders,
        changes,
        now=now,
        where=lambda path, msg: Issue(msg, "<changes>", None, format_path(path)),
    )


def apply_located(
    plant: Plant,
    orders: Sequence[Order],
    changes: Sequence[Change],
    *,
    now: float,
    where: Callable[[tuple[str | int, ...], str], Issue],
    prefix: tuple[str | int, ...] = ("changes",),
) -> tuple[Plant, list[Order]]:
    """`apply_changes` with issues located by `where(path, message)` (path from the file root).

    Raises:
        InputError: every problem of the first change that fails, or of the resulting plant.
    """
    book = list(orders)
    for j, change in enumerate(changes):
        try:
            plant, book = apply_change(change, plant, book, now=now)
        except ChangeProblem as exc:
            raise InputError([where((*prefix, j, *p), m) for p, m in exc.problems]) from None
    errors = [(p, m) for p, m, sev in check_plant(plant) if sev == "error"]
    for k, order in enumerate(book):
        limit = order_quantity_limit(plant, order.product)
        if order.quantity > limit:
            errors.append(
                (("orders", k, "quantity"), out_of_range(order.quantity, f"at most {limit:,} units"))
            )
    if errors:
        raise InputError(
            [where(prefix, f"after the changes, plant {format_path(p)}: {m}") for p, m in errors]
        )
    return plant, book


def apply_change(
    change: Change, plant: Plant, orders: list[Order], *, now: float = 0.0
) -> tuple[Plant, list[Order]]:
    """One change applied. Raises ChangeProblem when it does not fit the plant or book."""
    handler = _HANDLERS[type(change)]
    try:
        return handler(change, plant, orders, now)
    except ValidationError as exc:
        raise ChangeProblem(
            [
                (tuple(p for p in e["loc"] if isinstance(p, str | int)), friendly_message(e))
                for e in exc.errors()
            ]
        ) from None


# ---------------------------------------------------------------- helpers
def _time(plant: Plant, value: float | str, field: str) -> float:
    try:
        t = parse_time(value, plant.epoch)
    except ValueError as exc:
        raise ChangeProblem([((field,), str(exc))]) from None
    if not math.isfinite(t) or abs(t) > MAX_TIME_OFFSET:
        expected = f"a time within {years(MAX_TIME_OFFSET)} of the plant epoch ({plant.epoch:%Y-%m-%d})"
        raise ChangeProblem([((field,), out_of_range(value, expected))])
    return t


def _duration(value: float | str, field: str) -> float:
    try:
        return check_duration(value)
    except ValueError as exc:
        raise ChangeProblem([((field,), str(exc))]) from None


def _unknown(what: str, name: str, known: Sequence[str]) -> str:
    shown = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
    return f"unknown {what} {name!r} (known: {shown or 'none'})"


def _need_station(plant: Plant, station: str) -> Station:
    found = plant.station_map.get(station)
    if found is None:
        raise ChangeProblem([(("station",), _unknown("station", station, list(plant.station_map)))])
    return found


def _need_product(plant: Plant, product: str) -> Product:
    found = plant.product_map.get(product)
    if found is None:
        raise ChangeProblem([(("product",), _unknown("product", product, list(plant.product_map)))])
    return found


def _need_order(orders: list[Order], order_id: str) -> int:
    for k, o in enumerate(orders):
        if o.id == order_id:
            return k
    raise ChangeProblem([(("order",), _unknown("order", order_id, [o.id for o in orders]))])


def _need_operation(product: Product, operation: str) -> int:
    for k, op in enumerate(product.routing):
        if op.id == operation:
            return k
    known = [op.id for op in product.routing]
    raise ChangeProblem([(("operation",), _unknown(f"operation of {product.id}", operation, known))])


def _with_station(plant: Plant, station_id: str, **update: Any) -> Plant:
    lines = tuple(
        rebuild(
            line,
            stations=tuple(rebuild(s, **update) if s.id == station_id else s for s in line.stations),
        )
        for line in plant.lines
    )
    return rebuild(plant, lines=lines)


def _with_operation(plant: Plant, product_id: str, op_index: int, **update: Any) -> Plant:
    products = tuple(
        rebuild(
            p, routing=tuple(rebuild(op, **update) if k == op_index else op for k, op in enumerate(p.routing))
        )
        if p.id == product_id
        else p
        for p in plant.products
    )
    return rebuild(plant, products=products)


# ---------------------------------------------------------------- orders
def _add_order(c: AddOrder, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    _need_product(plant, c.product)
    if any(o.id == c.id for o in orders):
        raise ChangeProblem([(("id",), f"order id {c.id!r} already exists")])
    release = now if c.release is None else _time(plant, c.release, "release")
    due = _time(plant, c.due, "due")
    if due < release:
        raise ChangeProblem([(("due",), "due time is before the release time")])
    order = Order(c.id, c.product, c.quantity, release, due, c.priority)
    return plant, [*orders, order]


def _cancel_order(c: CancelOrder, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    k = _need_order(orders, c.order)
    return plant, orders[:k] + orders[k + 1 :]


def _move_due(c: MoveDue, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    k = _need_order(orders, c.order)
    old = orders[k]
    if c.due is not None:
        due, field = _time(plant, c.due, "due"), "due"
    elif c.later is not None:
        due, field = old.due + _duration(c.later, "later"), "later"
    else:
        assert c.earlier is not None
        due, field = old.due - _duration(c.earlier, "earlier"), "earlier"
    if due < old.release:
        raise ChangeProblem([((field,), f"new due time is before order {old.id}'s release")])
    return plant, [*orders[:k], dataclasses.replace(old, due=due), *orders[k + 1 :]]


def _scale_demand(c: ScaleDemand, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    if c.product is not None:
        _need_product(plant, c.product)
    return plant, [
        dataclasses.replace(o, quantity=max(1, round(o.quantity * c.factor)))
        if c.product in (None, o.product)
        else o
        for o in orders
    ]


# ---------------------------------------------------------------- disruptions
def _station_down(c: StationDown, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    station = _need_station(plant, c.station)
    start = _time(plant, c.start, "start")
    duration = _duration(c.duration, "duration")
    if duration <= 0:
        raise ChangeProblem([(("duration",), "duration must be positive")])
    window = Maintenance(start=start, duration=duration, reason=c.reason)
    return _with_station(plant, c.station, maintenance=(*station.maintenance, window)), orders


def _mttr(c: RepairTime, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    station = _need_station(plant, c.station)
    if station.failures is None:
        raise ChangeProblem(
            [(("station",), f"station {c.station!r} has no failure model (no MTTR to change)")]
        )
    mttr = station.failures.mttr.scaled(c.factor) if c.factor is not None else c.mttr
    failures = Failures(mtbf=station.failures.mtbf, mttr=mttr)
    return _with_station(plant, c.station, failures=failures), orders


def _delivery_slip(
    c: DeliverySlip, plant: Plant, orders: list[Order], now: float
) -> tuple[Plant, list[Order]]:
    material = plant.material_map.get(c.material)
    if material is None:
        raise ChangeProblem([(("material",), _unknown("material", c.material, list(plant.material_map)))])
    if not material.deliveries:
        raise ChangeProblem([(("material",), f"material {c.material!r} has no scheduled deliveries")])
    if c.index is not None and c.index >= len(material.deliveries):
        raise ChangeProblem(
            [(("index",), f"material {c.material!r} has {len(material.deliveries)} deliveries")]
        )
    by = _duration(c.by, "by")
    deliveries = tuple(
        Delivery(at=parse_time(d.at, plant.epoch) + by, quantity=d.quantity) if c.index in (None, k) else d
        for k, d in enumerate(material.deliveries)
    )
    materials = tuple(rebuild(m, deliveries=deliveries) if m.id == c.material else m for m in plant.materials)
    return rebuild(plant, materials=materials), orders


# ---------------------------------------------------------------- capacity
def _calendar_exception(
    c: AddShift | RemoveShift, plant: Plant, orders: list[Order], working: bool
) -> tuple[Plant, list[Order]]:
    if not plant.calendars:
        raise ChangeProblem([(("calendar",), "the plant has no calendars: its stations always work")])
    if c.calendar is not None and c.calendar not in plant.calendars:
        raise ChangeProblem([(("calendar",), _unknown("calendar", c.calendar, list(plant.calendars)))])
    start, end = _time(plant, c.start, "start"), _time(plant, c.end, "end")
    if end <= start:
        raise ChangeProblem([(("end",), "end must be after start")])
    exc = CalendarException(
        start=to_datetime(start, plant.epoch),
        end=to_datetime(end, plant.epoch),
        working=working,
        reason=c.reason,
    )
    calendars = {
        name: rebuild(spec, exceptions=(*spec.exceptions, exc)) if c.calendar in (None, name) else spec
        for name, spec in plant.calendars.items()
    }
    return rebuild(plant, calendars=calendars), orders


def _add_shift(c: AddShift, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    return _calendar_exception(c, plant, orders, True)


def _remove_shift(c: RemoveShift, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    return _calendar_exception(c, plant, orders, False)


def _operators(c: Operators, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    pool = plant.resource_map.get(c.resource)
    if pool is None:
        raise ChangeProblem([(("resource",), _unknown("resource", c.resource, list(plant.resource_map)))])
    capacity = c.capacity if c.capacity is not None else pool.capacity + (c.add or 0)
    if capacity < 1:
        raise ChangeProblem([(("add",), f"{c.resource!r} would have {capacity} (at least 1)")])
    resources = tuple(rebuild(r, capacity=capacity) if r.id == c.resource else r for r in plant.resources)
    return rebuild(plant, resources=resources), orders


def _add_machine(c: AddMachine, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    station = _need_station(plant, c.station)
    machines = station.machines + c.count
    if machines < 1:
        raise ChangeProblem([(("count",), f"station {c.station!r} has {station.machines}: at least 1 stays")])
    return _with_station(plant, c.station, machines=machines), orders


def _buffer(c: BufferSize, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    _need_station(plant, c.station)
    return _with_station(plant, c.station, buffer=c.size), orders


# ---------------------------------------------------------------- line changes
def _add_station(c: AddStation, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    line_ids = [ln.id for ln in plant.lines]
    if c.line not in line_ids:
        raise ChangeProblem([(("line",), _unknown("line", c.line, line_ids))])
    try:
        new = Station.model_validate(c.station)
    except ValidationError as exc:
        raise ChangeProblem(
            [
                (("station", *(p for p in e["loc"] if isinstance(p, str | int))), e["msg"])
                for e in exc.errors()
            ]
        ) from None
    if new.id in plant.station_map:
        raise ChangeProblem([(("station", "id"), f"station id {new.id!r} already exists")])
    lines = []
    for ln in plant.lines:
        if ln.id == c.line:
            ids = [s.id for s in ln.stations]
            if c.after is not None and c.after not in ids:
                raise ChangeProblem([(("after",), _unknown(f"station of line {ln.id}", c.after, ids))])
            at = ids.index(c.after) + 1 if c.after is not None else len(ids)
            ln = rebuild(ln, stations=(*ln.stations[:at], new, *ln.stations[at:]))
        lines.append(ln)
    return rebuild(plant, lines=tuple(lines)), orders


def _remove_station(
    c: RemoveStation, plant: Plant, orders: list[Order], now: float
) -> tuple[Plant, list[Order]]:
    _need_station(plant, c.station)
    stuck = [
        f"{p.id}.{op.id}" for p in plant.products for op in p.routing if tuple(op.stations) == (c.station,)
    ]
    if stuck:
        raise ChangeProblem(
            [(("station",), f"only {c.station!r} can do {', '.join(stuck)}: reroute these operations first")]
        )
    if any(len(ln.stations) == 1 and ln.stations[0].id == c.station for ln in plant.lines):
        raise ChangeProblem([(("station",), f"{c.station!r} is the last station of its line")])
    lines = tuple(
        rebuild(ln, stations=tuple(s for s in ln.stations if s.id != c.station)) for ln in plant.lines
    )
    products = tuple(
        rebuild(
            p,
            routing=tuple(
                rebuild(op, stations=tuple(s for s in op.stations if s != c.station))
                if c.station in op.stations
                else op
                for op in p.routing
            ),
        )
        for p in plant.products
    )
    return rebuild(plant, lines=lines, products=products), orders


def _cycle_time(c: CycleTime, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    if c.product is not None:
        _need_product(plant, c.product)
    if c.station is not None:
        _need_station(plant, c.station)
    products = []
    hits = 0
    for p in plant.products:
        routing: list[Operation] = []
        for op in p.routing:
            if (
                c.product in (None, p.id)
                and c.operation in (None, op.id)
                and (c.station is None or c.station in op.stations)
            ):
                hits += 1
                if c.factor is not None:
                    op = rebuild(op, time=op.time.scaled(c.factor), batch_time=op.batch_time * c.factor)
                else:
                    op = rebuild(op, time=c.time)
            routing.append(op)
        products.append(rebuild(p, routing=tuple(routing)))
    if hits == 0:
        raise ChangeProblem([(("operation",), "no operation matches product/operation/station")])
    return rebuild(plant, products=tuple(products)), orders


def _yield(c: Yield, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    product = _need_product(plant, c.product)
    k = _need_operation(product, c.operation)
    return _with_operation(plant, c.product, k, yield_=c.value), orders


def _reroute(c: Reroute, plant: Plant, orders: list[Order], now: float) -> tuple[Plant, list[Order]]:
    product = _need_product(plant, c.product)
    k = _need_operation(product, c.operation)
    bad = [
        (("stations", n), _unknown("station", s, list(plant.station_map)))
        for n, s in enumerate(c.stations)
        if s not in plant.station_map
    ]
    if bad:
        raise ChangeProblem(bad)
    return _with_operation(plant, c.product, k, stations=tuple(c.stations)), orders


_HANDLERS: dict[type, Callable[[Any, Plant, list[Order], float], tuple[Plant, list[Order]]]] = {
    AddOrder: _add_order,
    CancelOrder: _cancel_order,
    MoveDue: _move_due,
    ScaleDemand: _scale_demand,
    StationDown: _station_down,
    RepairTime: _mttr,
    DeliverySlip: _delivery_slip,
    AddShift: _add_shift,
    RemoveShift: _remove_shift,
    Operators: _operators,
    AddMachine: _add_machine,
    BufferSize: _buffer,
    AddStation: _add_station,
    RemoveStation: _remove_station,
    CycleTime: _cycle_time,
    Yield: _yield,
    Reroute: _reroute,
}
