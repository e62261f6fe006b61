"""Plan -> simulate -> repair: accepted at once when the plan is safe, evidence when nothing passes."""

from __future__ import annotations

from planner.loop import plan_until_accepted
from twin.orders import Order
from twin.verdict import AcceptancePolicy

ONE_MACHINE = """
name: one
epoch: 2026-11-30T00:00:00+00:00
lines: [{id: L, stations: [{id: m}]}]
products:
  - {id: p, routing: [{id: o, stations: m, time: TIME}]}
"""


def test_a_safe_plan_is_accepted_in_one_pass(jobshop3x3) -> None:
    plant, orders = jobshop3x3  # deterministic times: the simulator agrees with the plan
    result = plan_until_accepted(plant, orders, replications=5, max_iterations=3, time_limit=5)
    assert result.accepted
    assert len(result.iterations) == 1 and result.iterations[0].changes == ()
    assert result.verdict.accepted and result.schedule.makespan == 11
    assert result.iterations[0].on_time == {"J0": 1.0, "J1": 1.0, "J2": 1.0}
    assert result.reason == "accepted after 1 pass(es)"


def test_an_impossible_due_date_ends_with_evidence(plant_text) -> None:
    plant = plant_text(ONE_MACHINE.replace("TIME", "{lognormal: {mean: 10, cv: 0.2}}"))
    orders = [Order("easy", "p", 5, 0, 10_000), Order("hopeless", "p", 10, 0, 50)]  # 100 s of work due at 50
    policy = AcceptancePolicy(min_on_time=0.9)
    result = plan_until_accepted(
        plant, orders, replications=10, max_iterations=2, time_limit=4, policy=policy
    )
    assert not result.accepted
    assert len(result.iterations) == 2
    assert result.iterations[0].failing == ("hopeless",)
    assert result.iterations[0].on_time["hopeless"] == 0.0
    assert any("hopeless: internal due" in c for c in result.iterations[1].changes)
    assert "hopeless (0%)" in result.reason
    assert "CP-SAT proved" in result.reason
    assert result.verdict.schedule_hash == result.schedule.content_hash()
