"""Does a schedule fit a plant and an order book? What does not, in words.

A schedule made for one plant names stations, machines, operations and orders; run on a plant
(or with a book) that lacks them, the simulator would quietly skip what it does not know and
judge the rest, and a verdict on that would be about another plan. `misfits` lists every
mismatch, so the simulator's callers refuse such a schedule as a user error instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule

MAX_SHOWN = 8


def misfits(schedule: Schedule, plant: Plant, orders: Sequence[Order] | None) -> list[str]:
    """What of `schedule` the plant (stations, machines, routings) or the order book (orders;
    None: orders come from a stream, not checked) does not have; empty when it fits."""
    out: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        if text not in seen:
            seen.add(text)
            out.append(text)

    book = {o.id: o for o in orders} if orders is not None else None
    for op in schedule.operations:
        where = f"operation {op.order_id}/{op.op_index} ({op.operation})"
        station = plant.station_map.get(op.station)
        if station is None:
            add(f"station {op.station!r} is not in plant {plant.name!r}")
        elif not 0 <= op.machine < station.machines:
            add(f"{where}: station {op.station!r} has {station.machines} machine(s), no machine {op.machine}")
        if book is None:
            continue
        order = book.get(op.order_id)
        if order is None:
            add(f"order {op.order_id!r} is not in the order book")
            continue
        product = plant.product_map.get(order.product)
        if product is None:
            add(f"product {order.product!r} of order {order.id!r} is not in plant {plant.name!r}")
            continue
        if op.op_index >= len(product.routing):
            add(f"{where}: product {product.id!r} has {len(product.routing)} operation(s)")
            continue
        step = product.routing[op.op_index]
        if step.id != op.operation:
            add(f"{where}: operation {op.op_index} of product {product.id!r} is {step.id!r}")
        elif station is not None and op.station not in step.stations:
            add(f"{where}: runs on {', '.join(step.stations)}, not on {op.station!r}")
    return out


def misfit_summary(found: Sequence[str], plant: Plant) -> str:
    """One message for a list from `misfits`: the first few, and how many more."""
    shown = list(found[:MAX_SHOWN])
    if len(found) > MAX_SHOWN:
        shown.append(f"... and {len(found) - MAX_SHOWN} more")
    return f"the schedule does not fit plant {plant.name!r} and this order book: " + "; ".join(shown)
