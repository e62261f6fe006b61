"""Behaviour of the model on tiny plants with deterministic times, asserted exactly."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim import simulate
from twin.live import LiveState, OperationProgress
from twin.orders import Order
from twin.schedule import Schedule, ScheduledOperation

ONE = """
lines:
  - id: L
    stations:
      - {id: m, machines: MACHINES}
products:
  - id: p
    routing:
      - {id: o, stations: m, time: 10}
"""


def ops_of(res, station: str | None = None) -> list[tuple[str, float, float]]:
    df = res.operations if station is None else res.operations[res.operations["station"] == station]
    return [(r.order_id, r.start, r.end) for r in df.sort_values(["start", "order_id"]).itertuples()]


def states_of(res, station: str, machine: int = 0) -> list[tuple[str, float, float]]:
    df = res.states[(res.states["station"] == station) & (res.states["machine"] == machine)]
    return [(r.state, r.start, r.end) for r in df.sort_values("start").itertuples()]


# ---- following a schedule ----


def test_follows_the_optimal_jobshop_plan_exactly(jobshop3x3) -> None:
    plant, orders = jobshop3x3
    plan = [  # makespan 11
        ("J0", 0, "m0", 0, 3), ("J1", 0, "m0", 3, 5), ("J2", 0, "m1", 0, 4), ("J0", 1, "m1", 4, 6),
        ("J1", 2, "m1", 6, 10), ("J1", 1, "m2", 5, 6), ("J0", 2, "m2", 6, 8), ("J2", 1, "m2", 8, 11),
    ]  # fmt: skip
    sched = Schedule(tuple(ScheduledOperation(o, k, f"o{k}", s, 0, a, b) for o, k, s, a, b in plan))
    res = simulate(plant, orders, schedule=sched)
    got = {(r.order_id, r.op_index): (r.station, r.start, r.end) for r in res.operations.itertuples()}
    assert got == {(o, k): (s, float(a), float(b)) for o, k, s, a, b in plan}
    assert res.kpis["makespan"] == 11.0
    assert res.kpis["on_time_rate"] == 1.0


def test_schedule_sequence_and_planned_start_are_respected(make_plant) -> None:
    plant = make_plant(ONE.replace("MACHINES", "1"))
    orders = [Order("A", "p", 1, 0, 100), Order("B", "p", 1, 0, 100)]
    sched = Schedule(
        (ScheduledOperation("B", 0, "o", "m", 0, 5, 15), ScheduledOperation("A", 0, "o", "m", 0, 40, 50))
    )
    res = simulate(plant, orders, schedule=sched)
    assert ops_of(res) == [("B", 5.0, 15.0), ("A", 40.0, 50.0)]  # B first, neither before its start
    assert states_of(res, "m") == [("Idle", 0.0, 5.0), ("Execute", 5.0, 15.0), ("Idle", 15.0, 40.0),
                                   ("Execute", 40.0, 50.0)]  # fmt: skip


def test_a_plan_on_an_ineligible_station_is_refused(jobshop3x3) -> None:
    plant, orders = jobshop3x3
    bad = Schedule((ScheduledOperation("J0", 0, "o0", "m2", 0, 0, 3),))
    with pytest.raises(ValueError, match="not an eligible station"):
        simulate(plant, orders, schedule=bad)


# ---- dispatch rules and parallel machines ----


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("FIFO", "ABCD"), ("EDD", "DCBA"), ("SPT", "CADB"), ("CR", "DBCA")],
)
def test_dispatch_rules(make_plant, rule: str, expected: str) -> None:
    plant = make_plant(ONE.replace("MACHINES", "1"))
    orders = [
        Order("A", "p", 2, 0, 1000),
        Order("B", "p", 5, 0, 400),
        Order("C", "p", 1, 0, 300),
        Order("D", "p", 4, 0, 200),
    ]
    # all in the queue when the machine starts; CR = (due - now) / remaining work:
    # t=0: D 200/40 = 5 first; t=40: B 360/50 = 7.2 < C 26 < A 48; t=90: C 21 < A 45.5
    res = simulate(plant, orders, rule=rule)
    assert "".join(o for o, _, _ in ops_of(res)) == expected


def test_unknown_rule() -> None:
    with pytest.raises(ValueError, match="unknown dispatch rule"):
        simulate(None, [], rule="LIFO")  # type: ignore[arg-type]


def test_parallel_machines(make_plant) -> None:
    plant = make_plant(ONE.replace("MACHINES", "2"))
    res = simulate(plant, [Order(x, "p", 1, 0, 100) for x in "ABCD"])
    assert sorted(res.orders["completion"]) == [10.0, 10.0, 20.0, 20.0]
    assert sorted(set(res.operations["machine"])) == [0, 1]


# ---- buffers and blocking ----

LINE2 = """
lines:
  - id: L
    stations:
      - {id: a}
      - {id: b, buffer: BUF}
products:
  - id: p
    routing:
      - {id: o1, stations: a, time: 10}
      - {id: o2, stations: b, time: 30}
"""


def test_blocking_after_service_with_no_buffer(make_plant) -> None:
    plant = make_plant(LINE2.replace("BUF", "0"))
    res = simulate(plant, [Order(x, "p", 1, 0, 1000) for x in "ABC"])
    assert sorted(res.orders["completion"]) == [40.0, 70.0, 100.0]
    # a: A 0-10, B 10-20, then B waits (Blocked) until b takes it at 40; C 40-50, blocked until 70
    assert states_of(res, "a") == [("Execute", 0.0, 20.0), ("Blocked", 20.0, 40.0), ("Execute", 40.0, 50.0),
                                   ("Blocked", 50.0, 70.0), ("Idle", 70.0, 100.0)]  # fmt: skip
    blocked = res.delays[res.delays["cause"] == "blocked"].set_index("order_id")["seconds"].to_dict()
    assert blocked == {"B": 20.0, "C": 20.0}


def test_a_buffer_place_removes_the_blocking(make_plant) -> None:
    res = simulate(make_plant(LINE2.replace("BUF", "1")), [Order(x, "p", 1, 0, 1000) for x in "ABC"])
    assert "Blocked" in {s for s, _, _ in states_of(res, "a")}
    res = simulate(make_plant(LINE2.replace("BUF", "2")), [Order(x, "p", 1, 0, 1000) for x in "ABC"])
    assert "Blocked" not in {s for s, _, _ in states_of(res, "a")}
    assert sorted(res.orders["completion"]) == [40.0, 70.0, 100.0]


# ---- setups ----


def test_setups_by_family(make_plant) -> None:
    plant = make_plant(
        """
        lines:
          - id: L
            stations:
              - id: m
                setups: {default: 20, initial: 5, matrix: {X: {Y: 7}}}
        products:
          - {id: x1, family: X, routing: [{id: o, stations: m, time: 10}]}
          - {id: x2, family: X, routing: [{id: o, stations: m, time: 10}]}
          - {id: y, family: Y, routing: [{id: o, stations: m, time: 10}]}
        """
    )
    orders = [Order("A", "x1", 1, 0, 999), Order("B", "x2", 1, 0, 999), Order("C", "y", 1, 0, 999),
              Order("D", "x1", 1, 0, 999)]  # fmt: skip
    res = simulate(plant, orders)
    setups = [(r.order_id, r.setup, r.start, r.end) for r in res.operations.itertuples()]
    # initial 5; X->X none; X->Y 7 (matrix); Y->X 20 (default)
    assert setups == [("A", 5.0, 0.0, 15.0), ("B", 0.0, 15.0, 25.0), ("C", 7.0, 25.0, 42.0),
                      ("D", 20.0, 42.0, 72.0)]  # fmt: skip
    assert ("Setup", 0.0, 5.0) in states_of(res, "m")


# ---- calendars, failures, maintenance ----

SHIFT = """
calendars:
  day:
    shifts: [{days: mon-fri, start: "06:00", end: "14:00"}]
lines:
  - id: L
    calendar: day
    stations:
      - {id: m}
products:
  - id: p
    routing:
      - {id: o, stations: m, time: 2h}
"""
H = 3600.0


@pytest.mark.parametrize(("span", "start", "end"), [(True, 13 * H, 30 * H + 3600), (False, 30 * H, 32 * H)])
def test_shift_end_pauses_or_postpones_a_unit(make_plant, span: bool, start: float, end: float) -> None:
    plant = make_plant(SHIFT, operations_span_breaks=span)
    res = simulate(plant, [Order("A", "p", 1, 13 * H, 99 * H)])
    assert ops_of(res) == [("A", start, end)]
    log = states_of(res, "m")
    assert ("Stopped", 0.0, 6 * H) in log
    if span:  # an hour before shift end, the night off, an hour next morning
        assert log[2:5] == [
            ("Execute", 13 * H, 14 * H),
            ("Stopped", 14 * H, 30 * H),
            ("Execute", 30 * H, 31 * H),
        ]
        assert res.delays.set_index("cause").loc["off-shift", "seconds"] == 16 * H


def test_no_work_off_shift(make_plant) -> None:
    res = simulate(make_plant(SHIFT), [Order("A", "p", 1, 0, 99 * H)])
    assert ops_of(res) == [("A", 6 * H, 8 * H)]
    d = res.delays.set_index("cause")["seconds"]
    assert d["off-shift"] == 6 * H and d["queue:m"] == 0.0


FAIL = """
lines:
  - id: L
    stations:
      - id: m
        failures: {mtbf: 100, mttr: 20}
        maintenance: [{start: 1000, duration: 50}]
products:
  - id: p
    routing:
      - {id: o, stations: m, time: 250}
"""


def test_failures_interrupt_the_unit_in_progress(make_plant) -> None:
    res = simulate(make_plant(FAIL), [Order("A", "p", 1, 0, 9999)])
    assert ops_of(res) == [("A", 0.0, 290.0)]  # fails at 100 and 200 busy seconds, 20 s each
    assert states_of(res, "m")[:5] == [("Execute", 0.0, 100.0), ("Aborted", 100.0, 120.0),
                                       ("Execute", 120.0, 220.0), ("Aborted", 220.0, 240.0),
                                       ("Execute", 240.0, 290.0)]  # fmt: skip
    d = res.delays.set_index("cause")["seconds"]
    assert d["breakdown"] == 40.0 and d["processing"] == 250.0


def test_planned_maintenance_pauses_work(make_plant) -> None:
    res = simulate(make_plant(FAIL), [Order("A", "p", 1, 960, 9999)])
    # busy clock: 40 s to failure; 960-1000 work, 1000-1050 maintenance, ...
    log = states_of(res, "m")
    assert ("Maintenance", 1000.0, 1050.0) in log
    assert ("Idle", 0.0, 960.0) in log
    el = res.elements["m"]
    assert el.pdot == 50.0 and el.apt == 250.0 and el.adot == 40.0


# ---- scrap, rework ----

SCRAP = """
lines:
  - id: L
    stations:
      - {id: a}
      - {id: b}
products:
  - id: p
    routing:
      - {id: o1, stations: a, time: 10, yield: 0.6}
      - {id: o2, stations: b, time: 10, yield: 0.7, rework: {to: o1, share: 0.5}}
"""


def test_scrap_is_remade_until_the_quantity_is_good(make_plant) -> None:
    res = simulate(make_plant(SCRAP, scrap_policy="remake"), [Order("A", "p", 20, 0, 1e9)], seed=3)
    assert res.kpis["units_good"] == 20.0
    assert res.kpis["units_scrapped"] > 0
    assert len(res.operations[res.operations["op_index"] == 0]) > 1  # re-make and rework lots
    assert res.orders["completion"].notna().all()


def test_scrap_short_completes_the_order_short(make_plant) -> None:
    res = simulate(make_plant(SCRAP, scrap_policy="short"), [Order("A", "p", 20, 0, 1e9)], seed=3)
    assert 0 < res.kpis["units_good"] < 20
    ops = res.operations
    assert res.kpis["units_scrapped"] == ops["scrap"].sum() - _reworked(ops)
    assert res.kpis["units_good"] + res.kpis["units_scrapped"] == 20


def _reworked(ops: pd.DataFrame) -> int:
    # units that came back to o1 (not the order's first lot) were reworked, not scrapped
    first = ops[ops["op_index"] == 0].sort_values("start")
    return int(first["quantity"].iloc[1:].sum())


# ---- resources and materials ----


def test_secondary_resource_is_held_for_the_operation(make_plant) -> None:
    plant = make_plant(
        """
        resources: [{id: op, capacity: 1}]
        lines:
          - id: L
            stations: [{id: a}, {id: b}]
        products:
          - {id: pa, routing: [{id: o, stations: a, time: 10, resources: {op: 1}}]}
          - {id: pb, routing: [{id: o, stations: b, time: 10, resources: {op: 1}}]}
        """
    )
    res = simulate(plant, [Order("A", "pa", 2, 0, 99), Order("B", "pb", 1, 0, 99)])
    assert ops_of(res) == [("A", 0.0, 20.0), ("B", 20.0, 30.0)]
    assert states_of(res, "b")[0] == ("Held", 0.0, 20.0)
    assert res.delays.set_index(["order_id", "cause"]).loc[("B", "resource"), "seconds"] == 20.0


def test_material_starvation_and_delivery(make_plant) -> None:
    plant = make_plant(
        """
        materials: [{id: housing, stock: 2, deliveries: [{at: 100, quantity: 3}]}]
        lines:
          - id: L
            stations: [{id: a}]
        products:
          - {id: p, routing: [{id: o, stations: a, time: 10, consumes: {housing: 1}}]}
        """
    )
    res = simulate(plant, [Order("A", "p", 5, 0, 999)])
    # the lot takes its five housings as one kit when it starts: it waits for the delivery
    assert ops_of(res) == [("A", 100.0, 150.0)]
    assert ("Starved", 0.0, 100.0) in states_of(res, "a")
    assert res.delays.set_index("cause").loc["material", "seconds"] == 100.0


def test_reorder_on_allocation_and_again_on_arrival(make_plant) -> None:
    """Stock 2 (point 0, reorder 2, lead 50): the arriving lot of 5 allocates 5, the free stock is
    -3 <= 0, so a reorder goes out at 0; at 50 the free stock is -1: again; the kit is there at 100."""
    plant = make_plant(
        """
        materials: [{id: housing, stock: 2, replenishment: {reorder_point: 0, quantity: 2, lead_time: 50}}]
        lines:
          - id: L
            stations: [{id: a}]
        products:
          - {id: p, routing: [{id: o, stations: a, time: 10, consumes: {housing: 1}}]}
        """
    )
    res = simulate(plant, [Order("A", "p", 5, 0, 999)])
    assert ops_of(res) == [("A", 100.0, 150.0)]


# ---- warm start ----


def test_warm_start_from_the_live_state(jobshop3x3) -> None:
    plant, orders = jobshop3x3
    live = LiveState(
        time=100.0,
        in_progress=(OperationProgress("J0", 1, "m1", 0, started=99.0),),
        completed=frozenset({("J0", 0), ("J1", 0), ("J2", 0), ("J2", 1)}),
        down={"m2/0": 90.0},
    )
    res = simulate(plant, orders, live=live)
    got = {(r.order_id, r.op_index): (r.start, r.end) for r in res.operations.itertuples()}
    assert set(got) == {("J0", 1), ("J0", 2), ("J1", 1), ("J1", 2)}  # nothing done twice, J2 done
    assert got[("J0", 1)] == (100.0, 102.0)  # the unit under way is worked again from now
    assert got[("J1", 1)][0] == 100.0  # J1 waited in m2's buffer; m2 down but no failure model
    assert set(res.orders["order_id"]) == {"J0", "J1"}
    assert res.start == 100.0 and res.states["start"].min() == 100.0


# ---- delay attribution ----


def test_delays_add_up_to_the_lead_time(demo_plant, demo_orders) -> None:
    res = simulate(demo_plant, demo_orders[:12], seed=2)
    single = res.operations.groupby("order_id").size()
    total = res.delays.groupby("order_id")["seconds"].sum()
    lead = res.orders.set_index("order_id").eval("completion - release")
    remade = set(
        res.operations.groupby(["order_id", "op_index"]).size().loc[lambda s: s > 1].index.get_level_values(0)
    )
    for oid in single.index:
        if oid not in remade and not math.isnan(lead[oid]):
            assert total[oid] == pytest.approx(lead[oid], rel=1e-9), oid


def test_warm_start_keeps_the_units_already_made(make_plant) -> None:
    plant = make_plant(LINE2.replace("BUF", "null"))
    live = LiveState(
        time=500.0, in_progress=(OperationProgress("A", 0, "a", 0, started=470.0, done_units=3),)
    )
    res = simulate(plant, [Order("A", "p", 5, 0, 9999)], live=live)
    rows = {r.op_index: (r.start, r.end, r.quantity, r.good) for r in res.operations.itertuples()}
    assert rows[0] == (500.0, 520.0, 5, 5)  # two units left of five
    assert rows[1] == (520.0, 670.0, 5, 5)  # all five go on
