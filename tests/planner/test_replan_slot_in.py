"""A rush order slotted into the plan's gaps: the old plan untouched, the model's and the simulator's consent.

The re-planner first keeps every lot where it is and inserts the rush lots into the gaps
(`planner.dispatch.insert`); the model confirms that plan with every variable fixed to it.
Checked here against things that do not share that code: the independent feasibility
checker, the simulator's verdict, the objective's own lower bound (0), and a corrupted plan
that the confirmation must refuse.
"""

from __future__ import annotations

import dataclasses

import pytest

from planner.data import build_problem
from planner.dispatch import dispatch, insert
from planner.replan import replan
from planner.solver import dispatch_schedule, run_model
from sim import check
from twin.live import LiveState
from twin.orders import Order
from twin.timeutil import parse_time
from twin.verdict import AcceptancePolicy


@pytest.fixture(scope="module")
def rush_case(demo_plant, demo_orders):
    """The rush-replan scenario's situation: the floor's EDD plan, 20 VALVE due Friday 14:00."""
    plan = dispatch_schedule(demo_plant, demo_orders, rule="EDD")
    due = parse_time("2026-12-04T14:00:00+01:00", demo_plant.epoch)
    rush = [Order("RUSH-1", "VALVE", 20, release=0.0, due=due, weight=3)]
    result = replan(
        demo_plant, plan, demo_orders, rush, LiveState.empty(0.0), frozen_horizon=7200, work_limit=2,
        workers=1,
    )  # fmt: skip
    return plan, rush, result


def test_a_rush_order_that_fits_in_the_gaps_moves_nothing_and_is_optimal(
    demo_plant, demo_orders, rush_case, feasible
) -> None:
    plan, rush, result = rush_case
    # every term of the objective is >= 0: an objective of 0 is optimal by the bound alone
    assert result.status == "OPTIMAL" and result.objective == 0 and result.bound == 0
    assert result.moved == () and result.late_orders == ()
    new = {o.key: o for o in result.schedule.operations}
    for o in plan.operations:
        n = new[o.key]
        assert (n.machine_id, n.start) == (o.machine_id, o.start), o.key
    assert {k for k in new if k[0] == "RUSH-1"} == set(result.added) and result.added
    assert result.schedule.completion()["RUSH-1"] <= rush[0].due
    feasible(demo_plant, [*demo_orders, *rush], result.schedule)
    verdict = check(
        demo_plant, [*demo_orders, *rush], result.schedule, replications=10, seed=0,
        policy=AcceptancePolicy(min_on_time=0.8),
    )  # fmt: skip
    assert verdict.accepted, verdict.reasons


def test_the_slotted_re_plan_is_deterministic(demo_plant, demo_orders, rush_case) -> None:
    plan, rush, result = rush_case
    again = replan(
        demo_plant, plan, demo_orders, rush, LiveState.empty(0.0), frozen_horizon=7200, work_limit=2,
        workers=1,
    )  # fmt: skip
    assert again.schedule.content_hash() == result.schedule.content_hash()


def test_insert_fills_gaps_and_the_model_refuses_an_overlap(demo_plant, demo_orders, feasible) -> None:
    problem = build_problem(demo_plant, demo_orders)
    placed = dispatch(problem, "EDD")
    # take one order out, put it back by insertion: the other lots stay exactly where they were
    victim = demo_orders[len(demo_orders) // 2].id
    keys = [op.key for op in problem.chain(victim)]
    others = {k: p for k, p in placed.items() if k[0] != victim}
    filled = insert(problem, others, keys)
    moved = [
        k for k, p in others.items() if (filled[k].alternative, filled[k].start) != (p.alternative, p.start)
    ]
    assert moved == []
    plant_hash = demo_plant.content_hash()
    ok, _, _ = run_model(
        problem, plant_hash, objective="tardiness", time_limit=30, workers=1, seed=0, hint=filled,
        created_by="test", verify_hint=True,
    )  # fmt: skip
    assert ok.status in ("OPTIMAL", "FEASIBLE")
    feasible(demo_plant, demo_orders, ok.schedule)
    # the same lot laid over its machine's neighbour: the confirmation must say no
    key = keys[0]
    p = filled[key]
    mid = problem.chain(victim)[0].alternatives[p.alternative].machine_id
    neighbour = next(
        q
        for k, q in sorted(filled.items(), key=lambda kv: kv[1].start)
        if k != key and k[0] != victim
        and next(op for op in problem.ops if op.key == k).alternatives[q.alternative].machine_id == mid
        and q.end > q.start
    )  # fmt: skip
    bad = dict(filled)
    bad[key] = dataclasses.replace(p, start=neighbour.start, end=neighbour.start + (p.end - p.start))
    refused, _, _ = run_model(
        problem, plant_hash, objective="tardiness", time_limit=30, workers=1, seed=0, hint=bad,
        created_by="test", verify_hint=True,
    )  # fmt: skip
    assert refused.status == "INFEASIBLE" and not refused.schedule.operations
