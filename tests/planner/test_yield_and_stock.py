"""The plan and the simulator agree on yield (scrap allowance, remakes) and on reorder-point stock.

Independent checks: the launch quantity against scipy's binomial distribution; the plan's
completions against the simulator's (replications with a t confidence interval where scrap
is random, exactly where everything is deterministic); and, as a control that these tests
can fail, the plans the old assumptions made (no yield; the whole shortfall after one lead
time) are far off what the simulator does.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from planner.solver import solve
from planner.yields import launch_quantity, survival
from sim import replicate, simulate
from twin.orders import Order

YIELD_PLANT = """
name: yields
epoch: 2026-12-01T00:00:00+00:00
settings: {scrap_policy: POLICY}
lines:
  - id: L
    stations: [{id: a}, {id: b}, {id: c}]
products:
  - id: p
    routing:
      - {id: o1, stations: a, time: 30}
      - {id: o2, stations: b, time: 40, yield: Y1}
      - {id: o3, stations: c, time: 20, yield: Y2}
"""

STOCK_PLANT = """
name: lowstock
epoch: 2026-12-01T00:00:00+00:00
materials:
  - {id: part, stock: 50, SUPPLY}
lines:
  - id: L
    stations: [{id: a}, {id: b, machines: 2}]
products:
  - id: p
    routing:
      - {id: cut, stations: a, time: 30}
      - {id: fit, stations: b, time: 60, consumes: {part: 1}}
"""
REPLENISH = "replenishment: {reorder_point: RP, quantity: 100, lead_time: 2h}"
QUANTITIES = [40, 70, 30, 120, 60]


def _yield_plant(plant_text, y1: str, y2: str, policy: str = "remake"):
    return plant_text(YIELD_PLANT.replace("Y1", y1).replace("Y2", y2).replace("POLICY", policy))


@pytest.mark.parametrize("quantity", [1, 7, 20, 150])
def test_launch_quantity_is_the_smallest_with_the_confidence(plant_text, quantity: int) -> None:
    plant = _yield_plant(plant_text, "0.9", "0.95")
    product = plant.product_map["p"]
    p = survival(product)
    assert p == pytest.approx(0.9 * 0.95)
    n = launch_quantity(product, quantity, "remake", 0.95)
    assert stats.binom.sf(quantity - 1, n, p) >= 0.95  # P(good >= quantity)
    assert n == quantity or stats.binom.sf(quantity - 1, n - 1, p) < 0.95
    assert launch_quantity(product, quantity, "short", 0.95) == quantity


def test_a_plan_with_scrap_simulates_to_its_completion_times(plant_text) -> None:
    plant = _yield_plant(plant_text, "0.9", "0.95")
    orders = [Order(f"o{i}", "p", 20, 0, 86400) for i in range(4)]
    plan = solve(plant, orders, time_limit=5).schedule
    assert {o.quantity for o in plan.operations if o.op_index == 0} == {
        launch_quantity(plant.product_map["p"], 20, "remake")
    }
    runs = replicate(plant, orders, schedule=plan, replications=40)
    planned = plan.completion()
    # Slack: the plan holds the expected (fractional) units, a run whole ones; one unit at
    # the slowest operation (40 s) covers that rounding.
    slack = 40.0
    for oid, group in runs.orders.groupby("order_id"):
        c = group["completion"].to_numpy()
        half = stats.t.ppf(0.975, len(c) - 1) * c.std(ddof=1) / math.sqrt(len(c))
        assert abs(c.mean() - planned[oid]) <= half + slack, (oid, planned[oid], c.mean(), half)
    # control: planning as if nothing were scrapped is far off (remakes run after the main lot)
    ideal = _yield_plant(plant_text, "1", "1")
    naive = solve(ideal, orders, time_limit=5).schedule
    runs = replicate(plant, orders, schedule=naive, replications=40)
    first = runs.orders[runs.orders["order_id"] == "o0"]["completion"].to_numpy()
    assert np.mean(first) - naive.completion()["o0"] > 1000


def test_short_policy_plans_the_shrinking_lot(plant_text) -> None:
    plant = _yield_plant(plant_text, "0.9", "0.95", policy="short")
    plan = solve(plant, [Order("o", "p", 100, 0, 86400)], time_limit=5).schedule
    assert [o.quantity for o in sorted(plan.operations, key=lambda o: o.op_index)] == [100, 100, 90]


def _stock_orders() -> list[Order]:
    return [Order(f"o{i}", "p", q, 0, 86400) for i, q in enumerate(QUANTITIES)]


@pytest.mark.parametrize("point", [0, 20])
def test_low_stock_plan_is_what_the_simulator_does(plant_text, point: int) -> None:
    """Stock 50, reorder quantity 100, lead 2 h, demand 320: reorders one after the other."""
    plant = plant_text(STOCK_PLANT.replace("SUPPLY", REPLENISH.replace("RP", str(point))))
    orders = _stock_orders()
    result = solve(plant, orders, time_limit=10)
    run = simulate(plant, orders, schedule=result.schedule)
    simulated = dict(zip(run.orders["order_id"], run.orders["completion"], strict=True))
    assert simulated == pytest.approx(result.schedule.completion(), abs=1e-6)
    assert result.makespan > 3 * 7200  # three reorders, one after the other


def test_the_old_one_lead_time_assumption_disagrees(plant_text) -> None:
    """Control: the whole shortfall (270) arriving after one lead time is not what the floor does."""
    plant = plant_text(STOCK_PLANT.replace("SUPPLY", REPLENISH.replace("RP", "0")))
    old = plant_text(
        STOCK_PLANT.replace("SUPPLY", 'deliveries: [{at: "2026-12-01T02:00:00+00:00", quantity: 270}]')
    )
    orders = _stock_orders()
    naive = solve(old, orders, time_limit=10).schedule
    run = simulate(plant, orders, schedule=naive)
    assert run.orders["completion"].max() > naive.makespan + 7200
