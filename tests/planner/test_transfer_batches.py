"""Transfer batches: a two-station flow line against a unit-by-unit recursion written here, with
the simulator (free and following the plan) and the planner agreeing with it; the repair loop
splitting a lot whose own flow time is too long for its window."""

from __future__ import annotations

import math

import pytest

from planner import solve
from planner.data import build_problem
from planner.loop import plan_until_accepted
from planner.solver import solve_problem
from sim import simulate
from twin.orders import Order

LINE = """
name: line
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations:
      - {id: a}
      - {id: b, setups: {initial: SETUP}}
products:
  - id: p
    routing:
      - {id: o1, stations: a, time: P1, batch_time: BATCH TB}
      - {id: o2, stations: b, time: P2}
"""


def flow_line(q: int, p1: float, p2: float, b: int | None, batch: float = 0.0, setup: float = 0.0) -> float:
    """Completion of one lot of q units on a -> b, by a unit-by-unit recursion: a makes unit i at
    batch + i p1; a transfer batch leaves a when its last unit (or the lot's last) is made; b
    sets up once the first batch is there and makes unit i no earlier than its batch's arrival."""
    b = q if b is None else b
    made = [batch + i * p1 for i in range(1, q + 1)]
    arrival = [made[min(math.ceil(i / b) * b, q) - 1] for i in range(1, q + 1)]
    t = arrival[0] + setup
    for i in range(q):
        t = max(t, arrival[i]) + p2
    return t


def line(make_plant_text, p1: float, p2: float, b: int | None, batch: float = 0.0, setup: float = 0.0):
    text = (
        LINE.replace("P1", str(p1))
        .replace("P2", str(p2))
        .replace("BATCH", str(batch))
        .replace("SETUP", str(setup))
        .replace(" TB", f", transfer_batch: {b}" if b else "")
    )
    return make_plant_text(text)


CASES = [
    # q, p1, p2, b, batch, setup
    (10, 10, 6, 4, 0, 0),  # faster successor: the batch before the short last one binds (116, not 112)
    (10, 6, 10, 4, 0, 0),  # slower successor: the first batch's arrival binds
    (10, 10, 9, 3, 0, 0),  # short last batch of one unit behind a slower predecessor
    (12, 10, 6, 4, 0, 0),  # equal batches: the last batch's time on the successor
    (10, 10, 6, None, 0, 0),  # no transfer batches: one lot after the other
    (8, 5, 7, 2, 30, 20),  # batch time on a, setup on b (done once the first batch is there)
    (6, 4, 4, 10, 0, 0),  # a batch larger than the lot: the whole lot moves at once
]


@pytest.mark.parametrize(("q", "p1", "p2", "b", "batch", "setup"), CASES)
def test_two_station_line_matches_the_recursion(plant_text, q, p1, p2, b, batch, setup) -> None:
    plant = line(plant_text, p1, p2, b, batch, setup)
    orders = [Order("A", "p", q, 0, 1e6)]
    expected = flow_line(q, p1, p2, b, batch, setup)
    free = simulate(plant, orders)  # deterministic times: one run is the value
    assert free.kpis["makespan"] == pytest.approx(expected)
    plan = solve(plant, orders, objective="makespan", time_limit=5, workers=1)
    assert plan.status == "OPTIMAL"
    assert plan.makespan == pytest.approx(expected)
    followed = simulate(plant, orders, schedule=plan.schedule)
    assert followed.kpis["makespan"] == pytest.approx(expected)
    ops = sorted(plan.schedule.operations, key=lambda o: o.op_index)
    if b is not None and b < q:  # the successor starts before its predecessor is done
        assert ops[1].start < ops[0].end


def test_a_planned_transfer_batch_is_in_the_schedule_and_the_floor_follows_it(plant_text) -> None:
    plant = line(plant_text, 10, 6, None)  # the plant moves whole lots
    orders = [Order("A", "p", 10, 0, 1e6), Order("B", "p", 10, 0, 1e6)]
    problem = build_problem(plant, orders, transfer={"A": 4})
    plan = solve_problem(problem, plant.content_hash(), objective="makespan", time_limit=5, workers=1,
                         hint=None, seed=0)  # fmt: skip
    by_key = {o.key: o for o in plan.schedule.operations}
    assert by_key[("A", 0)].transfer_batch == 4 and by_key[("B", 0)].transfer_batch is None
    assert by_key[("A", 1)].transfer_batch is None  # nothing follows the last operation
    res = simulate(plant, orders, schedule=plan.schedule)
    done = dict(zip(res.orders["order_id"], res.orders["completion"], strict=True))
    assert max(done.values()) == pytest.approx(plan.makespan)
    assert done == pytest.approx(plan.schedule.completion())
    # optimal: B (whole) first, a 0-100, b 100-160; A on a 100-200 in batches 4, 4, 2 arriving
    # at 140, 180, 200; b takes A at 160: units 1-4 to 184, 5-8 to 208, 9-10 to 220 (A first: 260)
    assert done == pytest.approx({"B": 160.0, "A": 220.0})


def test_the_repair_splits_a_lot_whose_flow_time_is_too_long(plant_text) -> None:
    plant = line(plant_text, 10, 10, None)
    # 200 s as one lot, due at 150: only overlapping the two operations can make it
    orders = [Order("A", "p", 10, 0, 150)]
    result = plan_until_accepted(plant, orders, replications=3, max_iterations=3, time_limit=4, workers=1)
    first = result.iterations[0]
    assert first.failing == ("A",) and first.causes == {"A": "processing"}
    assert result.accepted, result.reason
    assert any("A: lot split into transfer batches of 3 units" in c for c in result.iterations[1].changes)
    (op0,) = [o for o in result.schedule.operations if o.op_index == 0]
    assert op0.transfer_batch == 3
    assert result.schedule.makespan == pytest.approx(flow_line(10, 10, 10, 3)) == 130
    assert [r.best for r in result.iterations] == [1, 2]
