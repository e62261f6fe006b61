"""Static capacity report: expected load per station for an order book or an order stream.

Load = expected work / available time. Work per operation is batch time plus
quantity x mean unit time, inflated for the scrap the downstream yields cause
(re-made units pass the operation again) and, where an operation has several
eligible stations, split over them in proportion to their machine counts.
Available time is the working time of the station's calendar over the window,
times its machines, times its availability MTBF / (MTBF + MTTR), less planned
maintenance. A load above 1 means the station cannot do the work in the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from twin.orders import Order
from twin.plant import Plant
from twin.timeutil import parse_time


@dataclass(frozen=True)
class StationLoad:
    """One station's expected demand (machine-seconds) against its available time."""

    station: str
    machines: int
    demand: float
    available: float

    @property
    def load(self) -> float:
        return self.demand / self.available if self.available > 0 else float("inf")


@dataclass(frozen=True)
class CapacityReport:
    """Loads per station over a window, and the bottleneck (the highest load)."""

    window: tuple[float, float]
    stations: tuple[StationLoad, ...]

    @property
    def bottleneck(self) -> StationLoad:
        return max(self.stations, key=lambda s: s.load)

    def to_dict(self) -> dict[str, object]:
        return {
            "window": {"start": self.window[0], "end": self.window[1]},
            "bottleneck": self.bottleneck.station,
            "stations": [
                {
                    "station": s.station,
                    "machines": s.machines,
                    "demand_s": round(s.demand, 1),
                    "available_s": round(s.available, 1),
                    "load": round(s.load, 4),
                }
                for s in self.stations
            ],
        }


def _work_per_unit_rate(plant: Plant, product_id: str, quantity: float) -> dict[str, float]:
    """Expected machine-seconds per station for `quantity` units of a product."""
    product = plant.product_map[product_id]
    demand: dict[str, float] = {}
    downstream_yield = 1.0
    starts: list[float] = [0.0] * len(product.routing)
    for k in range(len(product.routing) - 1, -1, -1):
        op = product.routing[k]
        downstream_yield *= op.yield_ if plant.settings.scrap_policy == "remake" else 1.0
        starts[k] = quantity / downstream_yield
    for k, op in enumerate(product.routing):
        work = op.batch_time + starts[k] * op.time.mean
        total_machines = sum(plant.station_map[s].machines for s in op.stations)
        for s in op.stations:
            share = plant.station_map[s].machines / total_machines
            demand[s] = demand.get(s, 0.0) + work * share
    return demand


def _available(plant: Plant, station_id: str, start: float, end: float) -> float:
    st = plant.station_map[station_id]
    calendar = plant.working_time(station_id, end + 86400)
    working = calendar.working_seconds(start, end)
    # Maintenance takes only the working time it overlaps (a window at night costs no capacity);
    # overlapping windows count once.
    windows: list[tuple[float, float]] = []
    for m in st.maintenance:
        t0 = parse_time(m.start, plant.epoch)
        t_end = parse_time(m.until, plant.epoch) if m.until is not None else end
        t = t0
        while t < min(end, t_end):
            if t + m.duration > start:
                windows.append((max(t, start), min(t + m.duration, end)))
            if m.every is None:
                break
            t += m.every
    maintenance = 0.0
    reach = start
    for a, b in sorted(windows):
        a = max(a, reach)
        if b > a:
            maintenance += calendar.working_seconds(a, b)
            reach = b
    avail = st.failures.availability if st.failures is not None else 1.0
    return max(0.0, working - maintenance) * st.machines * avail


def capacity_for_orders(plant: Plant, orders: list[Order]) -> CapacityReport:
    """Load per station for an order book, over [earliest release, latest due]."""
    if not orders:
        raise ValueError("an empty order book has no load")
    start = min(o.release for o in orders)
    end = max(o.due for o in orders)
    if not math.isfinite(end):
        raise ValueError("an order without a due time leaves the capacity window open")
    demand: dict[str, float] = {s.id: 0.0 for s in plant.stations}
    for order in orders:
        for s, w in _work_per_unit_rate(plant, order.product, order.quantity).items():
            demand[s] += w
    loads = tuple(
        StationLoad(s.id, s.machines, demand[s.id], _available(plant, s.id, start, end))
        for s in plant.stations
    )
    return CapacityReport((start, end), loads)


def capacity_for_stream(plant: Plant, window: float = 7 * 86400.0) -> CapacityReport:
    """Load per station for the plant's order stream, over `window` seconds from the epoch."""
    stream = plant.order_stream
    if stream is None:
        raise ValueError("the plant declares no order stream")
    arrivals = window / stream.interarrival.mean
    total = sum(stream.mix.values())
    demand: dict[str, float] = {s.id: 0.0 for s in plant.stations}
    for product, weight in stream.mix.items():
        n = arrivals * weight / total
        for s, w in _work_per_unit_rate(plant, product, stream.quantity.mean).items():
            demand[s] += n * w
    loads = tuple(
        StationLoad(s.id, s.machines, demand[s.id], _available(plant, s.id, 0.0, window))
        for s in plant.stations
    )
    return CapacityReport((0.0, window), loads)
