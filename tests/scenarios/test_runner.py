"""The runner's logic with a fake engine (pairing, collateral damage, moves), and with the real one
(reproducibility, library scenarios, sweeps on a Dask cluster equal to the local run)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path

import pytest

from scenarios.engine import PlanOutcome, SimOutcome, TwinEngine
from scenarios.files import list_library, load_scenario, prepare
from scenarios.html import render_html
from scenarios.model import PlannerSettings
from scenarios.promise import PROMISE_ID, promise
from scenarios.report import PlanSummary, comparison_frame, order_changes_frame
from scenarios.runner import run_scenario, run_sweep
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation
from twin.verdict import AcceptancePolicy


@dataclasses.dataclass(frozen=True)
class FakeEngine:
    """Throughput = 10 x machines at `test` + a large per-replication noise shared by both sides
    (so only a paired comparison sees the effect); an order is on time when its due is late enough."""

    def plan(self, plant: Plant, orders: Sequence[Order], settings: PlannerSettings, *, seed: int,
             hint: Schedule | None, live: LiveState | None = None) -> PlanOutcome:  # fmt: skip
        ops = tuple(
            ScheduledOperation(o.id, 0, "op", "test", 0, 100.0 * k, 100.0 * k + 50)
            for k, o in enumerate(orders)
        )
        schedule = Schedule(ops)
        return PlanOutcome(schedule, PlanSummary("fake", "ok", schedule.makespan, 0))

    def replan(self, plant: Plant, schedule: Schedule, orders: Sequence[Order], rush: Sequence[Order],
               live: LiveState, settings: PlannerSettings) -> PlanOutcome:  # fmt: skip
        # The rush order goes first and pushes everything else back by 100 s.
        first = [*rush, *(o for o in orders if o not in rush)]
        return self.plan(plant, first, settings, seed=0, hint=schedule)

    def simulate(self, plant: Plant, orders: Sequence[Order], schedule: Schedule | None, *, rule: str,
                 until: float | None, replications: int, seed: int, policy: AcceptancePolicy,
                 executor: Executor | None = None, serial: bool = False,
                 live: LiveState | None = None, progress: object = None) -> SimOutcome:  # fmt: skip
        noise = [((seed * 7919 + i * 104729) % 1000) / 10 for i in range(replications)]
        machines = plant.station_map["test"].machines
        done = schedule.completion() if schedule is not None else {}
        on_time = {o.id: 1.0 if done.get(o.id, 0) + 100_000 <= o.due else 0.5 for o in orders}
        return SimOutcome({"throughput_per_hour": tuple(10 * machines + n for n in noise)}, on_time)


FAKE = """
name: fake
base: {plant: demo}
judge: {replications: 8, seed: 4}
variants:
  - name: second-tester
    changes: [{type: add_machine, station: test}]
  - name: rush
    changes: [{type: add_order, id: R1, product: VALVE, quantity: 5, due: 5d}]
"""


def test_paired_difference_sees_what_separate_intervals_hide(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    report = run_scenario(
        prepare(FAKE, "<t>", base_dir=tmp_path), engine=FakeEngine(), progress=lambda *a: calls.append(a)
    )
    done = [c[1] for c in calls]
    assert done == sorted(done) and calls[-1] == ("done", 3 * 8, 3 * 8)  # baseline + 2 variants x 8
    (row,) = report.variants[0].comparison
    assert row.difference.mean == pytest.approx(10.0)
    assert row.difference.low == pytest.approx(10.0) and row.difference.high == pytest.approx(10.0)
    assert row.baseline.high > row.variant.low  # the two separate CIs overlap ...
    assert row.verdict == "better"  # ... but the paired difference is clear


def test_rush_report_has_collateral_damage_worst_first_and_moves(tmp_path: Path) -> None:
    report = run_scenario(prepare(FAKE, "<t>", base_dir=tmp_path), engine=FakeEngine())
    rush = report.variants[1]
    assert [r.order_id for r in rush.rush] == ["R1"]
    changes = [o.change for o in rush.orders]
    assert changes == sorted(changes)  # worst first
    assert all(o.order_id != "R1" for o in rush.orders)
    assert len(rush.moved) == len(report.baseline.schedule.operations)  # every lot shifted by 100 s
    assert {m.shift for m in rush.moved} == {100.0}
    assert rush.side.plan.mode == "fake"
    payload = json.loads(json.dumps(report.to_dict()))  # JSON-able as it stands
    assert payload["variants"][1]["rush"][0]["order_id"] == "R1"
    assert "<html>" in render_html(report)
    frame = comparison_frame(report.variants[0])
    assert list(frame.columns) == ["kpi", "unit", "baseline", "variant", "difference", "ci_low", "ci_high"]
    assert frame.loc[0, "unit"] == "units/h" and frame.loc[0, "difference"] == pytest.approx(10.0)
    changes = order_changes_frame(rush)
    assert changes.loc[0, "order_id"] == "R1" and bool(changes.loc[0, "rush"])


FLOW_SWEEP = """
name: flow-sweep
base:
  plant: flowline
  generate: 1h
  until: 1h
  changes: [{type: cycle_time, operation: op2, time: {exponential: 50}}]
judge: {replications: 2, seed: 5, planner: {mode: rule, rule: FIFO}}
sweep:
  objective: {kpi: units_good, goal: max}
  parameters:
    - {name: f3_buffer, change: {type: buffer, station: f3, size: 1}, field: size, values: [0, 4]}
    - {name: f2_machines, change: {type: add_machine, station: f2, count: 0}, field: count, values: [0, 1]}
"""


def _sweep_args(tmp_path: Path) -> tuple:
    loaded = prepare(FLOW_SWEEP, "<t>", base_dir=tmp_path)
    assert loaded.scenario.sweep is not None
    return loaded, (TwinEngine(), loaded.plant, loaded.orders, loaded.scenario.sweep, loaded.sweep_points)


def _kw(loaded) -> dict:
    return dict(now=0.0, settings=loaded.scenario.judge.planner, until=loaded.until, replications=2, seed=5)


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_sweep_on_a_dask_cluster_equals_the_local_run(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    loaded, args = _sweep_args(tmp_path)
    local = run_sweep(*args, **_kw(loaded))
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = run_sweep(*args, **_kw(loaded), executor=client.get_executor(), executor_name="dask")
    assert [p.values for p in remote.points] == [p.values for p in local.points]
    assert [p.samples for p in remote.points] == [p.samples for p in local.points]
    assert remote.best == local.best
    # A second machine at the bottleneck gives more parts at either buffer size.
    by = {tuple(p.values.values()): p.kpis["units_good"].mean for p in local.points}
    assert by[(0, 1)] > by[(0, 0)] and by[(4, 1)] > by[(4, 0)]


def test_same_seed_same_report(tmp_path: Path) -> None:
    text = (
        FLOW_SWEEP.split("sweep:")[0]
        + "changes: [{type: station_down, station: f2, start: 10m, duration: 10m}]\n"
    )
    first = run_scenario(prepare(text, "<t>", base_dir=tmp_path)).to_dict()
    second = run_scenario(prepare(text, "<t>", base_dir=tmp_path)).to_dict()
    other = run_scenario(prepare(text, "<t>", base_dir=tmp_path), seed=6).to_dict()
    for d in (first, second, other):
        d.pop("seconds")
    assert first == second
    assert first["baseline"]["samples"] != other["baseline"]["samples"]


def test_a_demo_library_scenario_runs_and_is_reproducible() -> None:
    loaded = load_scenario("bottleneck-breakdown")
    a = run_scenario(loaded, replications=2).to_dict()
    b = run_scenario(loaded, replications=2).to_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    (variant,) = a["variants"]
    tardiness = next(c for c in variant["comparison"] if c["kpi"] == "tardiness_total")
    assert tardiness["difference"]["mean"] >= 0  # a lost shift at the bottleneck never helps here


def _quick(name: str, **planner: object):
    """A library scenario with a short CP-SAT limit (the files say 10 s) and planner overrides."""
    loaded = load_scenario(name)
    judge = loaded.scenario.judge
    settings = judge.planner.model_copy(update={"time_limit": 3.0, **planner})
    scenario = loaded.scenario.model_copy(update={"judge": judge.model_copy(update={"planner": settings})})
    return dataclasses.replace(loaded, scenario=scenario)


def _without_timing(report) -> dict:
    out = report.to_dict()
    out.pop("seconds")
    for side in (out["baseline"], *out["variants"]):
        side["plan"].pop("seconds")
    return out


def test_library_sweep_is_not_demand_bound() -> None:
    """The shipped sweep answers a question: its points differ beyond their confidence intervals
    (one assembler against two), so its best point is not the first by the tie rule."""
    loaded = load_scenario("buffer-operators-sweep")
    assert loaded.scenario.sweep is not None
    points = [p for p in loaded.sweep_points if p[0]["assembly_buffer"] == 3 and p[0]["assemblers"] in (1, 2)]
    report = run_sweep(
        TwinEngine(),
        loaded.plant,
        loaded.orders,
        loaded.scenario.sweep,
        points,
        now=0.0,
        settings=loaded.scenario.judge.planner,
        until=loaded.until,
        replications=3,
        seed=0,
    )
    one, two = (p.kpis["throughput_per_hour"] for p in report.points)
    assert one.high < two.low, (one, two)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(list_library()))
def test_every_library_scenario_runs(name: str) -> None:
    loaded = _quick(name)
    n = 3 if loaded.sweep_points else None  # the file's replications: "fits" is judged on them
    report = run_scenario(loaded, replications=n)
    if report.sweep is not None:
        assert report.sweep.best is not None
    else:
        assert report.variants and report.variants[0].comparison
    if report.expect is not None:
        assert report.expect_met, [v.fits for v in report.variants]
    if loaded.scenario.judge.planner.mode != "solve":  # CP-SAT under a wall-clock limit may differ
        assert _without_timing(run_scenario(loaded, replications=n)) == _without_timing(report)


def test_rush_that_cannot_fit_says_so_after_a_minimal_disruption_replan() -> None:
    loaded = _quick("rush-no-fit", mode="solve", baseline="dispatch", workers=1)
    report = run_scenario(loaded, replications=2, counter_offers=False)  # searched in test_counter_offer
    (variant,) = report.variants
    assert variant.side.plan.mode == "replan"
    assert variant.fits is False and report.expect_met
    assert variant.rush[0].variant == 0.0
    assert variant.orders[0].change is not None and variant.orders[0].change < 0  # collateral damage


def test_promise_on_a_deterministic_line_is_the_lead_time(sample_plant) -> None:
    plant = sample_plant("flowline")
    book = [Order(f"B{k}", "part", 1, release=0.0, due=36_000.0) for k in range(3)]
    result = promise(plant, book, "part", 1, replications=2, settings=PlannerSettings(mode="dispatch"))
    # EDD puts the tight new order first: it is done after 30 + 50 + 40 + 20 s, always.
    assert result.promise == 140.0 == result.lower_bound
    assert result.evidence is not None and result.evidence.on_time == 1.0


def test_promise_under_variability_is_bisected_with_evidence(sample_plant) -> None:
    plant = sample_plant("single")  # one exponential server, 48 s per unit
    book = [Order(f"B{k}", "part", 1, release=0.0, due=7200.0) for k in range(4)]
    result = promise(
        plant, book, "part", 3, confidence=0.8, replications=20, resolution=20.0,
        settings=PlannerSettings(mode="dispatch"),
    )  # fmt: skip
    assert result.promise is not None and result.promise > result.lower_bound == 144.0
    ev = result.evidence
    assert ev is not None and ev.promisable and ev.on_time >= 0.8
    tried = sorted(result.candidates, key=lambda c: c.due)
    below = [c for c in tried if c.due < result.promise]
    assert below and not below[-1].promisable  # the next earlier candidate tried failed ...
    assert result.promise - below[-1].due <= 20.0  # ... within the resolution
    assert all(c.due != 0 for c in tried) and PROMISE_ID == "PROMISE"


def test_live_state_reaches_the_simulator(tmp_path: Path) -> None:
    """A run from the floor's state simulates from that state: the same numbers as the simulator
    warm-started from it directly, and not those of a cold start."""
    import sim

    text = FLOW_SWEEP.split("sweep:")[0] + "changes: [{type: add_machine, station: f2}]\n"
    loaded = prepare(text, "<t>", base_dir=tmp_path)
    live = LiveState.empty(600.0)
    report = run_scenario(loaded, live=live)
    direct = sim.replicate(
        loaded.plant, list(loaded.orders), rule="FIFO", until=loaded.until, replications=2, seed=5, live=live,
        executor=sim.SerialExecutor(),
    )  # fmt: skip
    assert list(report.baseline.samples["units_good"]) == direct.values("units_good")
    cold = run_scenario(loaded)
    assert cold.baseline.samples["units_good"] != report.baseline.samples["units_good"]
