"""Seeds, replications, executors, sequential stopping, the check of a schedule, and the model's hooks."""

from __future__ import annotations

import concurrent.futures as cf

import pandas as pd
import pytest
import simpy
import simpy.rt

from sim import PlantModel, SerialExecutor, check, replicate, simulate
from sim.run import UnknownKPIError
from sim.streams import derive_seed, stream
from twin.orders import Order
from twin.schedule import Schedule, ScheduledOperation
from twin.verdict import AcceptancePolicy

WEEK = 7 * 86400.0


def _frames_equal(a, b) -> None:
    for name in ("operations", "orders", "states", "delays"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_streams_are_stable_and_named() -> None:
    assert derive_seed(1, 2, "proc:cnc1") == derive_seed(1, 2, "proc:cnc1")
    assert (
        len({derive_seed(1, 2, "a"), derive_seed(1, 3, "a"), derive_seed(2, 2, "a"), derive_seed(1, 2, "b")})
        == 4
    )
    assert stream(7, 0, "x").random() == stream(7, 0, "x").random()
    assert derive_seed(0, 0, "arrivals") == 709768957074761738  # no salted hash(): fixed across runs


def test_same_seed_same_result_bit_for_bit(demo_plant, demo_orders) -> None:
    a = simulate(demo_plant, demo_orders, until=2 * 86400, seed=4)
    b = simulate(demo_plant, demo_orders, until=2 * 86400, seed=4)
    _frames_equal(a, b)
    assert a.kpis == b.kpis
    c = simulate(demo_plant, demo_orders, until=2 * 86400, seed=5)
    assert not a.operations["end"].equals(c.operations["end"])


def test_common_random_numbers_across_variants(sample_plant) -> None:
    plant = sample_plant("tandem3")
    fifo = simulate(plant, None, until=20_000.0, seed=8, rule="FIFO")
    spt = simulate(plant, None, until=20_000.0, seed=8, rule="SPT")
    pd.testing.assert_series_equal(fifo.orders["release"], spt.orders["release"])  # same arrivals


def test_replications_on_a_process_pool_match_serial_runs(sample_plant) -> None:
    plant = sample_plant("single")
    seen: list[tuple[int, int]] = []
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        par = replicate(plant, None, until=20_000.0, replications=4, seed=6, executor=pool,
                        progress=lambda d, n: seen.append((d, n)))  # fmt: skip
    ser = replicate(plant, None, until=20_000.0, replications=4, seed=6, executor=SerialExecutor())
    _frames_equal(par, ser)
    assert par.per_replication == ser.per_replication
    assert seen[-1] == (4, 4) and len(seen) == 4
    one = simulate(plant, None, until=20_000.0, seed=6)  # replication 0 is `simulate`
    assert one.kpis == ser.per_replication[0]
    assert list(ser.orders["replication"].unique()) == [0, 1, 2, 3]
    est = ser.kpis["lead_time_mean"]
    assert est.n == 4 and est.low < est.mean < est.high


def test_sequential_stopping(sample_plant) -> None:
    plant = sample_plant("single")
    loose = replicate(plant, None, until=20_000.0, replications=3, seed=1, target=("lead_time_mean", 1e6),
                      executor=SerialExecutor())  # fmt: skip
    assert loose.n == 3
    tight = replicate(plant, None, until=20_000.0, replications=3, seed=1, target=("lead_time_mean", 1e-3),
                      max_replications=9, executor=SerialExecutor())  # fmt: skip
    assert tight.n == 9


def _plan(slack: float) -> tuple[list[Order], Schedule]:
    orders = [Order("A", "p", 3, 0, 30 + slack), Order("B", "p", 2, 0, 50 + slack)]
    sched = Schedule(
        (ScheduledOperation("A", 0, "o", "m", 0, 0, 30, quantity=3),
         ScheduledOperation("B", 0, "o", "m", 0, 30, 50, quantity=2))
    )  # fmt: skip
    return orders, sched


ONE_EXP = """
lines:
  - id: L
    stations: [{id: m}]
products:
  - {id: p, routing: [{id: o, stations: m, time: {exponential: 10}}]}
"""


def test_check_accepts_a_schedule_with_slack(make_plant) -> None:
    orders, sched = _plan(slack=200)
    v = check(make_plant(ONE_EXP), orders, sched, replications=20, seed=1, executor=SerialExecutor())
    assert v.accepted, v.reasons
    assert v.schedule_hash == sched.content_hash()
    assert v.order("A").on_time_probability == 1.0 and v.order("A").ci_low < 1.0  # Wilson, not certainty
    assert v.order("B").planned_completion == 50
    assert len(v.makespans) == 20 and v.replications == 20


def test_check_refuses_a_tight_schedule_and_says_why(make_plant) -> None:
    orders, sched = _plan(slack=0)
    v = check(make_plant(ONE_EXP), orders, sched, replications=20, seed=1, executor=SerialExecutor(),
              policy=AcceptancePolicy(min_on_time=0.9, service_level=0.95))  # fmt: skip
    assert not v.accepted
    assert any("order B is on time in only" in r for r in v.reasons)
    assert any("service level" in r for r in v.reasons)
    b = v.order("B")
    assert 0 < b.on_time_probability < 0.9 and b.mean_lateness > 0
    assert set(b.delay) >= {"queue:m", "processing"}


def test_hooks_observer_dispatch_and_realtime(make_plant) -> None:
    plant = make_plant(
        """
        lines:
          - id: L
            stations: [{id: m}]
        products:
          - {id: p, routing: [{id: o, stations: m, time: 5, yield: 0.5}]}
        """,
        scrap_policy="short",
    )
    records: list[dict] = []
    env = simpy.rt.RealtimeEnvironment(initial_time=0.0, factor=0.0001, strict=False)
    model = PlantModel(plant, env, observer=records.append, seed=2)
    env.run(until=10)
    assert model.machine_state("m/0") == "Idle"
    model.dispatch(
        [ScheduledOperation("A", 0, "o", "m", 0, 20, 40, quantity=4)], [Order("A", "p", 4, 0, 999)]
    )
    env.run(until=1000)
    kinds = [r["kind"] for r in records]
    for kind in ("order_released", "operation_start", "unit", "operation_end", "state"):
        assert kind in kinds
    units = [r for r in records if r["kind"] == "unit"]
    assert units[0]["time"] >= 25.0  # never before the planned start (20) + one unit
    last = units[-1]
    counts = model.counters()["m"]
    assert (last["good_count"], last["reject_count"]) == (counts["good"], counts["reject"])
    assert all(isinstance(v, str | int | float | type(None)) for r in records for v in r.values())
    res = model.result()
    assert res.until == env.now and len(res.operations) >= 1


def test_model_takes_a_plain_environment_and_runs_to_completion(make_plant) -> None:
    plant = make_plant(ONE_EXP)
    env = simpy.Environment(initial_time=50.0)
    model = PlantModel(plant, env, orders=[Order("A", "p", 2, 0, 999)], seed=1)
    model.run()
    res = model.result()
    assert res.start == 50.0 and res.orders["completion"].iloc[0] > 50.0


def test_week_of_the_demo_plant(demo_plant, demo_orders) -> None:
    res = simulate(demo_plant, demo_orders, until=WEEK, seed=1)
    k = res.kpis
    assert k["units_good"] > 0 and 0 < k["oee"] < 1
    for s in ("cnc1", "assembly", "pack"):
        assert 0 < k[f"availability.{s}"] <= 1
        assert 0 < k[f"quality.{s}"] <= 1
        assert k[f"oee.{s}"] == k[f"availability.{s}"] * k[f"performance.{s}"] * k[f"quality.{s}"]
    assert set(res.states["state"]) <= {"Execute", "Setup", "Idle", "Starved", "Blocked", "Held", "Aborted",
                                        "Maintenance", "Stopped"}  # fmt: skip
    assert {"Stopped", "Maintenance", "Setup"} <= set(res.states["state"])
    # every machine's log covers the window exactly, without overlaps
    for _, g in res.states.groupby(["station", "machine"]):
        g = g.sort_values("start")
        assert g["start"].iloc[0] == 0.0 and g["end"].iloc[-1] == WEEK
        assert (g["start"].to_numpy()[1:] == g["end"].to_numpy()[:-1]).all()


def test_check_replicates_to_a_precision_and_judges_every_run(make_plant) -> None:
    orders, sched = _plan(slack=200)
    plant = make_plant(ONE_EXP)
    loose = check(plant, orders, sched, replications=4, seed=1, executor=SerialExecutor(),
                  target=("makespan", 1e9), max_replications=30)  # fmt: skip
    tight = check(plant, orders, sched, replications=4, seed=1, executor=SerialExecutor(),
                  target=("makespan", 1e-6), max_replications=9)  # fmt: skip
    assert loose.replications == 4 and len(loose.makespans) == 4
    assert tight.replications == 9 and len(tight.makespans) == 9
    assert tight.makespans[:4] == loose.makespans  # the same first replications, then more of them
    with pytest.raises(UnknownKPIError, match="'nosuch'"):
        check(plant, orders, sched, replications=2, seed=1, executor=SerialExecutor(), target=("nosuch", 1.0))
