"""Production performance for the ERP (the ISA-95 feedback side): per order, from the floor's
actual events in the history, what was produced and scrapped, when it started and completed,
and the materials it consumed; per operation (ISA-95 segment response) the same counts.

Definitions (plant seconds; one row per order with any actual event in [since, until)):

- `produced`: good units of the order's last routing operation (finished goods);
- `scrapped`: units reported scrapped at any operation of the order;
- `started` / `last_activity`: the first and last actual event of the order;
- `completed`: the time the finished-goods count reached the ordered quantity (None until then);
- `consumed`: per material, units started (good + scrapped) at each operation that consumes it,
  times the quantity per unit from the plant model.

Events are attributed to orders by the station's CurrentOrder tag when the counter moved (as the
sync layer records them), so on a station with several machines working different orders at
once the split between those orders is approximate; totals per station are exact.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from twin.history import HistoryStore
from twin.plant import Plant


@dataclass(frozen=True)
class SegmentResponse:
    """One operation of an order as it ran."""

    operation: str
    produced: int
    scrapped: int
    first: float
    last: float


@dataclass(frozen=True)
class OrderPerformance:
    """One order's production response."""

    order_id: str
    product: str | None
    quantity: int | None
    due: float | None
    produced: int
    scrapped: int
    started: float
    last_activity: float
    completed: float | None
    consumed: dict[str, float] = field(default_factory=dict)
    segments: tuple[SegmentResponse, ...] = ()

    @property
    def on_time(self) -> bool | None:
        if self.completed is None or self.due is None:
            return None
        return self.completed <= self.due


def production_performance(
    store: HistoryStore, plant: Plant, since: float, until: float | None = None
) -> list[OrderPerformance]:
    """Per order with actual events in [since, until): its production response (see module doc)."""
    seg = store.order_segments(since, until)
    finals = store.produced_events(since, until)
    books = store.latest_book_entries()
    out: list[OrderPerformance] = []
    for order_id, rows in seg.groupby("order_id", sort=True):
        entry = books.get(str(order_id))
        product, quantity, due = (entry.product, entry.quantity, entry.due) if entry else (None, None, None)
        routing = plant.product_map[product].routing if product in plant.product_map else None
        last_op = routing[-1].id if routing else None
        segments = tuple(
            SegmentResponse(str(r.operation), int(r.produced), int(r.scrapped), float(r.first), float(r.last))
            for r in rows.itertuples(index=False)
        )
        by_op = {s.operation: s for s in segments}
        produced = by_op[last_op].produced if last_op in by_op else 0
        completed = None
        if quantity is not None and last_op is not None and produced >= quantity:
            f = finals[(finals["order_id"] == order_id) & (finals["operation"] == last_op)]
            reached = f[f["quantity"].cumsum() >= quantity]
            completed = float(reached["time"].iloc[0]) if len(reached) else None
        consumed: dict[str, float] = {}
        for op in routing or ():
            s = by_op.get(op.id)
            for material, per_unit in (op.consumes or {}).items():
                units = (s.produced + s.scrapped) if s is not None else 0
                consumed[material] = consumed.get(material, 0.0) + units * float(per_unit)
        out.append(
            OrderPerformance(
                order_id=str(order_id),
                product=product,
                quantity=quantity,
                due=due,
                produced=produced,
                scrapped=sum(s.scrapped for s in segments),
                started=min(s.first for s in segments),
                last_activity=max(s.last for s in segments),
                completed=completed,
                consumed=consumed,
                segments=segments,
            )
        )
    return out


def iso(plant: Plant, t: float | None) -> str | None:
    """Plant seconds as an ISO datetime in the plant's zone."""
    if t is None or not math.isfinite(t):
        return None
    return (plant.epoch + timedelta(seconds=t)).isoformat()


def to_json(plant: Plant, rows: list[OrderPerformance], since: float, until: float | None) -> dict[str, Any]:
    """The ISA-95 production performance as one JSON object (times ISO with zone)."""

    def order(p: OrderPerformance) -> dict[str, Any]:
        d = asdict(p)
        for key in ("due", "started", "last_activity", "completed"):
            d[key] = iso(plant, d[key])
        d["on_time"] = p.on_time
        d["segments"] = [
            {**asdict(s), "first": iso(plant, s.first), "last": iso(plant, s.last)} for s in p.segments
        ]
        return d

    return {
        "production_performance": {
            "plant": plant.name,
            "site": plant.site,
            "since": iso(plant, since),
            "until": iso(plant, until),
            "production_responses": [order(p) for p in rows],
        }
    }


CSV_COLUMNS = (
    "order_id",
    "product",
    "quantity",
    "produced",
    "scrapped",
    "started",
    "completed",
    "due",
    "on_time",
    "last_activity",
)


def to_rows(plant: Plant, rows: list[OrderPerformance]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows for CSV: one row per order, one `consumed_<material>` column per material."""
    materials = sorted({m for p in rows for m in p.consumed})
    header = [*CSV_COLUMNS, *(f"consumed_{m}" for m in materials)]
    body = []
    for p in rows:
        body.append(
            [
                p.order_id,
                p.product or "",
                p.quantity if p.quantity is not None else "",
                p.produced,
                p.scrapped,
                iso(plant, p.started),
                iso(plant, p.completed) or "",
                iso(plant, p.due) or "",
                "" if p.on_time is None else str(p.on_time).lower(),
                iso(plant, p.last_activity),
                *(f"{p.consumed.get(m, 0.0):g}" for m in materials),
            ]
        )
    return header, body


def parse_bound(text: str, plant: Plant, option: str) -> float:
    """Plant seconds from a number, or an ISO datetime (a naive one is in the plant's zone).

    Raises:
        ValueError: neither.
    """
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=plant.epoch.tzinfo)
    return (moment - plant.epoch).total_seconds()
