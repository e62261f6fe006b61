"""Planner test helpers: a feasibility checker independent of the model, and small plants from text."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import pytest

from twin.loader import plant_from_text
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.timeutil import parse_time

EPS = 1e-6


def check_feasible(
    plant: Plant,
    orders: Sequence[Order],
    schedule: Schedule,
    *,
    full: bool = True,
    fixed: frozenset[tuple[str, int]] = frozenset(),
) -> None:
    """Assert the schedule is feasible, reading only the plant, the orders and the schedule.

    Every lot of every order planned once (if `full`), on an eligible machine; no two lots
    overlap on a machine; routing order kept; nothing before release; processing time at
    least batch + quantity x mean; calendars (working time for the work content, or one
    working interval) and maintenance kept; setups as the matrix says for each machine's sequence.
    Lots in `fixed` (under way on the floor) are exempt from the duration and setup checks.
    """
    by_key = {o.key: o for o in schedule.operations}
    assert len(by_key) == len(schedule.operations), "a lot planned twice"
    for order in orders:
        routing = plant.product_map[order.product].routing
        prev_end = order.release
        for k, operation in enumerate(routing):
            if (order.id, k) not in by_key:
                assert not full, f"{order.id} op {k} missing"
                continue
            s = by_key[(order.id, k)]
            assert s.station in operation.stations, (s.key, s.station)
            assert 0 <= s.machine < plant.station_map[s.station].machines
            assert s.start >= prev_end - EPS, f"{s.key} starts before its predecessor ends / release"
            prev_end = s.end
            if s.key in fixed:
                continue
            work = s.setup + operation.mean_time(order.quantity)
            wt = plant.working_time(s.station, s.end + 86400)
            if plant.settings.operations_span_breaks:
                assert wt.working_seconds(s.start, s.end) >= work - 1e-3, (s.key, "too little working time")
                assert wt.is_working(s.start) or s.end == s.start
            else:
                assert wt.is_working(s.start) and wt.next_off(s.start) >= s.end - EPS, (
                    s.key,
                    "spans a break",
                )
                assert s.end - s.start >= work - 1e-3
            for m in plant.station_map[s.station].maintenance:
                a = parse_time(m.start, plant.epoch)
                while a < s.end:
                    assert not (s.start < a + m.duration and a < s.end), (s.key, "overlaps maintenance")
                    if m.every is None:
                        break
                    a += m.every
    for mid, seq in schedule.by_machine().items():
        station = plant.station_map[seq[0].station]
        family = None
        busy = [o for o in seq if o.end > o.start]  # zero-length lots occupy nothing
        for a, b in itertools.pairwise(busy):
            assert b.start >= a.end - EPS, f"overlap on {mid}: {a.key} and {b.key}"
        for s in seq:
            order = next(o for o in orders if o.id == s.order_id)
            fam = plant.product_map[order.product].setup_family
            if s.key in fixed:
                family = fam
                continue
            assert s.setup == pytest.approx(station.setups.time(family, fam), abs=1.0), (mid, s.key, "setup")
            family = fam


@pytest.fixture(scope="session")
def feasible() -> Callable[..., None]:
    return check_feasible


@pytest.fixture(scope="session")
def plant_text() -> Callable[[str], Plant]:
    def make(text: str) -> Plant:
        plant, _ = plant_from_text(text, "<test>")
        return plant

    return make
