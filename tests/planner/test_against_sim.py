"""The plan and the simulator agree, number for number, on deterministic plants (calendars, setups).

The simulator is an independent implementation of the same plant semantics (pausing over
breaks, setups when a lot starts, maintenance); when times are deterministic, running the
plan must reproduce every planned completion exactly.
"""

from __future__ import annotations

import pytest
from planner_plants import CALENDAR_PLANT, SETUP_PLANT

from planner.solver import solve
from sim import simulate
from twin.orders import Order


@pytest.mark.parametrize("span", ["true", "false"])
def test_calendar_plan_is_what_the_simulator_does(plant_text, span: str) -> None:
    plant = plant_text(CALENDAR_PLANT.replace("SPAN", span))
    orders = [Order(f"o{i}", "p", 1, 0, 3 * 86400) for i in range(3)]
    plan = solve(plant, orders, time_limit=5).schedule
    run = simulate(plant, orders, schedule=plan)
    simulated = dict(zip(run.orders["order_id"], run.orders["completion"], strict=True))
    assert simulated == plan.completion()


def test_setup_plan_is_what_the_simulator_does(plant_text) -> None:
    plant = plant_text(SETUP_PLANT)
    orders = [Order("a1", "pa", 1), Order("b1", "pb", 1), Order("a2", "pa", 1)]
    plan = solve(plant, orders, time_limit=5).schedule
    run = simulate(plant, orders, schedule=plan)
    simulated = dict(zip(run.orders["order_id"], run.orders["completion"], strict=True))
    assert simulated == plan.completion() and max(simulated.values()) == 13
