"""The lean job-shop path: detection, the model equals the textbook one, optima, the serial fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from ortools.sat.python import cp_model
from planner_plants import SETUP_PLANT

from planner.data import build_problem
from planner.jobshop import build_jobshop_model, is_pure_job_shop, serial_schedule
from planner.solver import run_model, solve, to_schedule
from twin.jssp import jssp_from_text
from twin.orders import Order

INSTANCES = Path(__file__).parents[2] / "benchmarks" / "instances"


def textbook_model(text: str) -> cp_model.CpModel:
    """OR-Tools' minimal_jobshop_sat.py formulation, read straight from the instance text."""
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    n, m = map(int, rows[0].split())
    jobs = [
        [(v[2 * k], v[2 * k + 1]) for k in range(m)]
        for v in (list(map(int, r.split())) for r in rows[1 : n + 1])
    ]
    horizon = sum(t for job in jobs for _, t in job)
    model = cp_model.CpModel()
    starts, ends, per_machine = {}, {}, {i: [] for i in range(m)}
    for j, job in enumerate(jobs):
        for k, (machine, duration) in enumerate(job):
            s, e = model.new_int_var(0, horizon, ""), model.new_int_var(0, horizon, "")
            per_machine[machine].append(model.new_interval_var(s, duration, e, ""))
            starts[j, k], ends[j, k] = s, e
    for intervals in per_machine.values():
        model.add_no_overlap(intervals)
    for j, job in enumerate(jobs):
        for k in range(len(job) - 1):
            model.add(starts[j, k + 1] >= ends[j, k])
    makespan = model.new_int_var(0, horizon, "")
    model.add_max_equality(makespan, [ends[j, len(job) - 1] for j, job in enumerate(jobs)])
    model.minimize(makespan)
    return model


def _unnamed(model: cp_model.CpModel) -> str:
    proto = model.proto
    for v in proto.variables:
        v.name = ""
    for c in proto.constraints:
        c.name = ""
    return str(proto)


@pytest.mark.parametrize("name", ["ft06", "la01", "ta01"])
def test_lean_model_is_the_textbook_model(name: str) -> None:
    """Same variables, domains, constraints and order (names aside): CP-SAT solves both alike."""
    text = (INSTANCES / name).read_text()
    problem = build_problem(*jssp_from_text(text, name, name))
    assert is_pure_job_shop(problem, "makespan")
    model, _ = build_jobshop_model(problem)
    assert _unnamed(model) == _unnamed(textbook_model(text))


def test_only_a_pure_job_shop_under_makespan_is_lean(plant_text, demo_plant, demo_orders) -> None:
    plant, orders = jssp_from_text((INSTANCES / "ft06").read_text(), "ft06", "ft06")
    problem = build_problem(plant, orders)
    assert is_pure_job_shop(problem, "makespan")
    assert not is_pure_job_shop(problem, "tardiness")
    assert not is_pure_job_shop(problem, "mixed")
    assert not is_pure_job_shop(build_problem(demo_plant, demo_orders), "makespan")
    setups = plant_text(SETUP_PLANT)
    product = setups.products[0].id
    assert not is_pure_job_shop(build_problem(setups, [Order("A", product, 1)]), "makespan")


@pytest.mark.parametrize("name", ["ft06", "la01"])
def test_lean_and_general_models_prove_the_same_optimum(name: str, feasible) -> None:
    """Two formulations, one optimum (the general one is independent of planner.jobshop)."""
    plant, orders = jssp_from_text((INSTANCES / name).read_text(), name, name)
    problem = build_problem(plant, orders)
    results = [
        run_model(
            problem,
            plant.content_hash(),
            objective="makespan",
            time_limit=60,
            workers=2,
            seed=0,
            hint=None,
            created_by="test",
            lean=lean,
        )[0]
        for lean in (True, False)
    ]
    assert [r.status for r in results] == ["OPTIMAL", "OPTIMAL"]
    assert results[0].makespan == results[1].makespan
    assert results[0].bound == results[0].objective == results[0].makespan
    feasible(plant, orders, results[0].schedule)


def test_solve_of_a_job_shop_names_the_plain_model(feasible) -> None:
    plant, orders = jssp_from_text((INSTANCES / "ft06").read_text(), "ft06", "ft06")
    result = solve(plant, orders, time_limit=20, work_limit=5)
    assert (result.status, result.makespan) == ("OPTIMAL", 55)
    assert "plain job-shop model" in result.schedule.created_by
    feasible(plant, orders, result.schedule)


def test_serial_fallback_is_feasible_and_sums_the_work(feasible) -> None:
    text = (INSTANCES / "la01").read_text()
    plant, orders = jssp_from_text(text, "la01", "la01")
    problem = build_problem(plant, orders)
    placements = serial_schedule(problem)
    schedule = to_schedule(problem, placements, plant.content_hash(), "test", {})
    feasible(plant, orders, schedule)
    assert schedule.makespan == sum(op.alternatives[0].duration for op in problem.ops)


STREAMED = """
name: streamed
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations: [{id: a}, {id: b}]
products:
  - id: p
    routing:
      - {id: o1, stations: a, time: 10, transfer_batch: 4}
      - {id: o2, stations: b, time: 6}
"""


def test_a_lot_moving_on_in_transfer_batches_is_not_a_textbook_job_shop(plant_text) -> None:
    """Overlapping operations break the textbook precedence (end before start): the general model
    must plan them. 10 units, batches of 4, 10 s then 6 s a unit: 116 s, not 160 s."""
    plant = plant_text(STREAMED)
    problem = build_problem(plant, [Order("A", "p", 10)])
    assert not is_pure_job_shop(problem, "makespan")
    assert solve(plant, [Order("A", "p", 10)], objective="makespan", time_limit=10.0).makespan == 116
