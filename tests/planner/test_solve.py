"""CP-SAT planning: known optima, setups, calendars, resources, materials, reported bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from planner_plants import CALENDAR_PLANT, RESOURCE_PLANT, SETUP_PLANT

from planner.results import PlanResult
from planner.solver import dispatch_schedule, solve
from twin.errors import InfeasibleError
from twin.jssp import jssp_from_text
from twin.orders import Order

INSTANCES = Path(__file__).parents[2] / "benchmarks" / "instances"


def test_ft06_optimum_is_55(feasible) -> None:
    plant, orders = jssp_from_text((INSTANCES / "ft06").read_text(), "ft06", "ft06")
    result = solve(plant, orders, time_limit=20, workers=2)
    assert result.status == "OPTIMAL"
    assert result.makespan == 55
    assert result.bound == 55 and result.gap == 0.0
    feasible(plant, orders, result.schedule)


def test_jobshop3x3_optimum_is_11(jobshop3x3, feasible) -> None:
    plant, orders = jobshop3x3
    result = solve(plant, orders, time_limit=5)
    assert (result.status, result.makespan) == ("OPTIMAL", 11)
    assert result.schedule.plant_hash == plant.content_hash()
    assert result.late_orders == ()
    feasible(plant, orders, result.schedule)


def test_tardiness_objective_weights_orders(plant_text) -> None:
    """One machine, two 10 s jobs both due at 10: the heavier one goes first."""
    plant = plant_text(
        """
name: two
epoch: 2026-11-30T00:00:00+00:00
lines: [{id: L, stations: [{id: m}]}]
products:
  - {id: a, routing: [{id: o, stations: m, time: 10}]}
"""
    )
    orders = [Order("light", "a", 1, 0, 10, 1.0), Order("heavy", "a", 1, 0, 10, 5.0)]
    result = solve(plant, orders, objective="tardiness", time_limit=5)
    assert result.status == "OPTIMAL"
    assert result.schedule.completion() == {"heavy": 10, "light": 20}
    assert result.objective == pytest.approx(10.0)  # light is 10 s late, weight 1
    assert result.late_orders == ("light",)


def test_setups_change_the_optimum(plant_text, feasible) -> None:
    """Hand-checked: A, B, A on one machine, 10 s between families, 1 s each.

    Without setups any order gives 3; with them the best is A, A, B = 1 + 1 + 10 + 1 = 13
    (A, B, A would be 23)."""
    plant = plant_text(SETUP_PLANT)
    orders = [Order("a1", "pa", 1), Order("b1", "pb", 1), Order("a2", "pa", 1)]
    result = solve(plant, orders, time_limit=5)
    assert (result.status, result.makespan) == ("OPTIMAL", 13)
    seq = [o.order_id[0] for o in result.schedule.operations]
    assert seq in (["a", "a", "b"], ["b", "a", "a"])
    assert sorted(o.setup for o in result.schedule.operations) == [0, 0, 10]
    feasible(plant, orders, result.schedule)
    no_setups = plant_text(SETUP_PLANT.replace("setups: {default: 10, initial: 0}", "machines: 1"))
    assert solve(no_setups, orders, time_limit=5).makespan == 3


@pytest.mark.parametrize("span", [True, False])
def test_calendars_and_maintenance_are_respected(plant_text, feasible, span: bool) -> None:
    plant = plant_text(CALENDAR_PLANT.replace("SPAN", str(span).lower()))
    orders = [Order(f"o{i}", "p", 1, 0, 3 * 86400) for i in range(3)]
    result = solve(plant, orders, time_limit=10)
    assert result.status in ("OPTIMAL", "FEASIBLE")
    feasible(plant, orders, result.schedule)
    first = min(result.schedule.operations, key=lambda o: o.start)
    assert first.start >= 6 * 3600  # nothing before the shift starts
    if span:
        # a 3 h lot starting at 10:00 or earlier on m2 pauses over the 10:00-10:30 break
        assert any(
            o.end - o.start > o.setup + 3 * 3600 for o in result.schedule.operations if o.station == "m2"
        )
    else:
        assert all(
            not (o.start < 10 * 3600 + 86400 * d + 1800 and o.end > 10 * 3600 + 86400 * d)
            for o in result.schedule.operations
            for d in range(4)
        )


def test_lot_longer_than_any_shift_is_refused_without_span(plant_text) -> None:
    plant = plant_text(CALENDAR_PLANT.replace("SPAN", "false").replace("time: 3h", "time: 9h"))
    with pytest.raises(InfeasibleError, match="does not fit"):
        solve(plant, [Order("o", "p", 1)], time_limit=2)


def test_operator_is_a_cumulative_resource(plant_text, feasible) -> None:
    plant = plant_text(RESOURCE_PLANT)
    orders = [Order("x1", "x", 1), Order("y1", "y", 1)]
    result = solve(plant, orders, time_limit=5)
    assert (result.status, result.makespan) == ("OPTIMAL", 20)  # one operator: no overlap
    feasible(plant, orders, result.schedule)


def test_material_delivery_is_an_earliest_start(plant_text, feasible) -> None:
    plant = plant_text(RESOURCE_PLANT)
    orders = [Order("z1", "z", 1), Order("z2", "z", 1)]
    result = solve(plant, orders, time_limit=5)
    starts = sorted(o.start for o in result.schedule.operations)
    assert starts[0] == 0 and starts[1] == 100  # one part in stock, the next arrives at 100
    assert result.makespan == 105
    feasible(plant, orders, result.schedule)
    with pytest.raises(InfeasibleError, match="material part"):
        solve(plant, [Order(f"z{i}", "z", 1) for i in range(7)], time_limit=2)


def test_demo_plant_plan_is_feasible_and_reports_its_gap(demo_plant, demo_orders, feasible) -> None:
    result = solve(demo_plant, demo_orders, objective="tardiness", time_limit=8)
    assert isinstance(result, PlanResult)
    assert result.status in ("OPTIMAL", "FEASIBLE")
    assert result.bound is not None and result.objective is not None
    assert result.bound <= result.objective + 1e-6
    assert 0.0 <= result.gap <= 1.0
    assert result.seconds > 0 and result.seconds < 30
    feasible(demo_plant, demo_orders, result.schedule)
    # the schedule round-trips through JSON unchanged
    import json

    from twin.schedule import Schedule

    again = Schedule.from_dict(json.loads(result.schedule.to_json()))
    assert again.content_hash() == result.schedule.content_hash()


def test_cp_sat_is_no_worse_than_its_dispatch_hint(demo_plant, demo_orders) -> None:
    rule = min(
        (dispatch_schedule(demo_plant, demo_orders, rule=r) for r in ("EDD", "SPT", "ATC")),
        key=lambda s: s.makespan,
    )
    result = solve(demo_plant, demo_orders, objective="makespan", time_limit=5)
    assert result.makespan <= rule.makespan + 1e-6


def test_public_api_is_exported() -> None:
    import importlib

    api = importlib.import_module("planner.__init__")
    for name in ("solve", "dispatch_schedule", "replan", "plan_until_accepted", "PlanResult", "ReplanResult"):
        assert callable(getattr(api, name)), name


def test_a_tiny_time_limit_still_gives_a_feasible_plan(demo_plant, demo_orders, feasible) -> None:
    """The dispatch-rule warm start is a schedule even when CP-SAT has no time to improve it."""
    result = solve(demo_plant, demo_orders, objective="tardiness", time_limit=0.01)
    assert result.status == "FEASIBLE" and result.schedule.operations
    feasible(demo_plant, demo_orders, result.schedule)
