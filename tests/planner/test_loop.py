"""Plan -> simulate -> repair: accepted at once when the plan is safe, repaired by the blamed cause,
evidence when nothing passes; `plan --until-accepted` reports every pass."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from planner.loop import plan_until_accepted
from plantwin.cli import app
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
    assert "hopeless (0%, processing): its own work" in result.reason
    assert "CP-SAT proved" in result.reason
    assert result.verdict.schedule_hash == result.schedule.content_hash()


# Station `a` breaks down half the time (MTBF = MTTR = 100 s); `b` is a reliable alternative
# that needs a 20 s setup first, so the mean-time plan prefers `a`.
FLAKY = """
name: flaky
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations:
      - {id: a, failures: {mtbf: {exponential: 100}, mttr: {exponential: 100}}}
      - {id: b, setups: {initial: 20}}
products:
  - {id: p, routing: [{id: o, stations: [a, b], time: 10}]}
"""


def test_breakdowns_move_the_lot_to_the_reliable_machine(plant_text) -> None:
    plant = plant_text(FLAKY)
    orders = [Order("o", "p", 10, 0, 150)]  # 100 s of work, due at 150
    result = plan_until_accepted(plant, orders, replications=20, max_iterations=3, time_limit=4)
    first = result.iterations[0]
    assert first.plan.schedule.operations[0].station == "a"  # done at 100 with mean times
    assert first.failing == ("o",) and first.causes == {"o": "breakdown"}
    assert result.accepted and len(result.iterations) == 2
    assert any("o: off a (breakdown) onto b" in c for c in result.iterations[1].changes)
    assert result.schedule.operations[0].station == "b"
    assert result.iterations[1].on_time["o"] > first.on_time["o"]


def test_plan_until_accepted_command_reports_every_pass(tmp_path) -> None:
    plant = tmp_path / "flaky.yaml"
    plant.write_text(FLAKY)
    book = tmp_path / "orders.csv"
    book.write_text(
        "id,product,quantity,release,due,weight\n"
        "o,p,10,2026-11-30T00:00:00+00:00,2026-11-30T00:02:30+00:00,1\n"
    )
    out = tmp_path / "s.json"
    args = [
        "plan", str(plant), "--orders", str(book), "--until-accepted", "--max-passes", "3",
        "--replications", "20", "--time-limit", "4", "--out", str(out), "--no-history", "--json",
    ]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["accepted"] is True and payload["best_pass"] == 2
    passes = payload["passes"]
    assert [p["pass"] for p in passes] == [1, 2]
    assert passes[0]["failing"] == ["o"] and passes[0]["failing_count"] == 1
    assert passes[0]["causes"] == {"o": "breakdown"} and passes[0]["changes"] == []
    assert any("off a" in c for c in passes[1]["changes"]) and passes[1]["failing"] == []
    assert [p["best_so_far"] for p in passes] == [1, 2]
    assert passes[0]["note"] == "first pass" and passes[1]["note"] == "accepted"
    assert passes[0]["transfer_batches"] == {}  # one operation: nothing to split
    assert payload["files"] == [str(out), str(out.with_suffix(".csv"))]
    res = CliRunner().invoke(app, [*args[:-1], "--max-passes", "0"])
    assert res.exit_code == 2 and "--max-passes" in res.output


def test_until_accepted_check_replicates_to_the_asked_precision(tmp_path, plant_text) -> None:
    """--precision reaches the check: a varying plant runs past the minimum, a steady one stops there."""
    book = tmp_path / "orders.csv"
    book.write_text(
        "id,product,quantity,release,due,weight\n"
        "o,p,10,2026-11-30T00:00:00+00:00,2026-12-30T00:00:00+00:00,1\n"
    )
    flaky = tmp_path / "flaky.yaml"
    flaky.write_text(FLAKY)
    steady = tmp_path / "steady.yaml"
    steady.write_text(ONE_MACHINE.replace("TIME", "10"))

    def passes(plant: object, *extra: str) -> list[dict]:
        args = [
            "plan", str(plant), "--orders", str(book), "--until-accepted", "--max-passes", "1",
            "--replications", "4", "--time-limit", "4", "--out", str(tmp_path / "s.json"), "--no-history",
            "--json", *extra,
        ]  # fmt: skip
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)["passes"]

    # breakdowns half the time: the makespan's CI is nowhere near 1 s wide after 4 runs
    assert [p["replications"] for p in passes(flaky)] == [4]
    assert [
        p["replications"] for p in passes(flaky, "--precision", "makespan=1s", "--max-replications", "12")
    ] == [12]
    # deterministic times: every run has the same makespan, a half-width of 0 at the minimum
    assert [p["replications"] for p in passes(steady, "--precision", "makespan=1s")] == [4]
    # wrong uses name the option and exit 2
    for extra, option in (
        (["--precision", "nosuchkpi=1"], "--precision"),
        (["--precision", "makespan=1s", "--max-replications", "3"], "--max-replications"),
    ):
        base = ["plan", str(flaky), "--orders", str(book), "--until-accepted", "--replications", "4"]
        res = CliRunner().invoke(app, [*base, "--time-limit", "2", "--no-history", *extra])
        assert res.exit_code == 2 and option in res.output, res.output
    res = CliRunner().invoke(app, ["plan", str(flaky), "--orders", str(book), "--precision", "makespan=1s"])
    assert res.exit_code == 2 and "--precision" in res.output and "--until-accepted" in res.output
