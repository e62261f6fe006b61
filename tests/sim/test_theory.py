"""The simulator against queueing theory: exact oracles, then confidence intervals from replications."""

from __future__ import annotations

import heapq
import itertools
import math

import pytest

from sim import SerialExecutor, replicate, simulate
from sim.model import PlantModel
from sim.streams import derive_seed, stream
from twin.orders import Order, generate_orders
from twin.plant import Plant

HORIZON = 150_000.0


def stream_orders(plant: Plant, seed: int, replication: int = 0, horizon: float = HORIZON) -> list[Order]:
    """The orders `simulate` would generate from the plant's stream for this seed and replication."""
    assert plant.order_stream is not None
    return generate_orders(plant.order_stream, horizon, derive_seed(seed, replication, "arrivals"))


def oracle_completions(plant: Plant, orders: list[Order], seed: int) -> list[float]:
    """A hand-written event loop for a line of FIFO stations with c exponential machines each and
    unbounded buffers, drawing the same random numbers in the same order as the simulator
    (each station's stream, one draw per unit as service starts)."""
    ready = [o.release for o in orders]
    for op in plant.products[0].routing:
        station = plant.station_map[op.stations[0]]
        rng = stream(seed, 0, f"proc:{station.id}")
        rate = 1.0 / op.time.mean
        free = [0.0] * station.machines  # when each machine is next free (a heap)
        done = []
        for t in ready:  # FIFO: service starts in arrival order
            start = max(t, heapq.heappop(free))
            end = start + rng.expovariate(rate)
            heapq.heappush(free, end)
            done.append(end)
        ready = done
    return ready


@pytest.mark.parametrize("name", ["single", "tandem3", "mmc"])
def test_exact_oracle(sample_plant, name: str) -> None:
    plant = sample_plant(name)
    orders = stream_orders(plant, seed=5, horizon=40_000.0)
    res = simulate(plant, orders, seed=5)
    got = res.orders.sort_values("order_id")["completion"].tolist()
    assert got == oracle_completions(plant, orders, seed=5)  # number for number


def _sojourn_ci(plant: Plant, n: int, seed: int):
    reps = replicate(plant, None, until=HORIZON, replications=n, seed=seed, executor=SerialExecutor())
    return reps.kpis["lead_time_mean"], reps


def test_mm1_mean_time_in_system(sample_plant) -> None:
    plant = sample_plant("single")
    est, _ = _sojourn_ci(plant, 12, seed=11)
    assert est.low <= 1 / (1 / 48 - 1 / 60) <= est.high  # W = 240 s


def test_jackson_tandem(sample_plant) -> None:
    plant = sample_plant("tandem3")
    est, reps = _sojourn_ci(plant, 10, seed=3)
    lam = 1 / 60
    theory = sum(1 / (1 / m - lam) for m in (40, 45, 30))  # 360 s
    assert est.low <= theory <= est.high
    thr = reps.kpis["orders_per_hour"]
    assert thr.low <= 60.0 <= thr.high * 1.01  # throughput = lambda (the last hour's orders still inside)


def test_mmc_erlang_c(sample_plant) -> None:
    plant = sample_plant("mmc")
    lam, mu, c = 1 / 20, 1 / 50, 3
    a, rho = lam / mu, lam / (c * mu)
    p0 = 1 / (sum(a**k / math.factorial(k) for k in range(c)) + a**c / (math.factorial(c) * (1 - rho)))
    erlang_c = a**c / (math.factorial(c) * (1 - rho)) * p0
    theory = erlang_c / (c * mu - lam) + 1 / mu
    est, _ = _sojourn_ci(plant, 10, seed=2)
    assert est.low <= theory <= est.high


def _flowline(make_plant, buffer: int | None) -> Plant:
    buf = "" if buffer is None else f", buffer: {buffer}"
    return make_plant(
        f"""
        lines:
          - id: L
            stations:
              - {{id: f1}}
              - {{id: f2{buf}}}
              - {{id: f3{buf}}}
              - {{id: f4{buf}}}
        products:
          - id: part
            routing:
              - {{id: op1, stations: f1, time: 30}}
              - {{id: op2, stations: f2, time: 50}}
              - {{id: op3, stations: f3, time: 40}}
              - {{id: op4, stations: f4, time: 20}}
        order_stream: {{interarrival: 10, mix: {{part: 1}}, quantity: 1, due_after: 1h}}
        """
    )


def test_deterministic_flow_line(sample_plant, make_plant) -> None:
    res = simulate(sample_plant("flowline"), None, until=20_000.0)
    done = sorted(res.orders["completion"].dropna())
    gaps = {b - a for a, b in itertools.pairwise(done)}
    assert gaps == {50.0}  # throughput exactly 1 / bottleneck time
    for buffer in (0, 2, 10, None):  # blocking with no buffer, more buffer: no change
        other = simulate(_flowline(make_plant, buffer), None, until=20_000.0)
        assert sorted(other.orders["completion"].dropna()) == done


def test_littles_law(sample_plant) -> None:
    plant = sample_plant("tandem3")
    # All orders finish: L = lambda W holds exactly on the run's own outputs.
    res = simulate(plant, stream_orders(plant, seed=4, horizon=50_000.0), seed=4)
    k = res.kpis
    assert k["wip_mean"] == pytest.approx(k["orders_per_hour"] / 3600 * k["lead_time_mean"], rel=1e-9)
    # Cut off at a time: only approximately (orders still inside), within a few percent.
    cut = simulate(plant, None, until=100_000.0, seed=4).kpis
    assert cut["wip_mean"] == pytest.approx(cut["orders_per_hour"] / 3600 * cut["lead_time_mean"], rel=0.05)


def test_conservation_with_scrap_rework_and_blocking(make_plant) -> None:
    plant = make_plant(
        """
        lines:
          - id: L
            stations:
              - {id: a}
              - {id: b, buffer: 1}
              - {id: c, buffer: 0, machines: 2}
        products:
          - id: p
            routing:
              - {id: o1, stations: a, time: {exponential: 20}, yield: 0.9}
              - {id: o2, stations: b, time: {exponential: 25}}
              - {id: o3, stations: c, time: {exponential: 45}, yield: 0.8, rework: {to: o2, share: 0.5}}
        order_stream: {interarrival: {exponential: 120}, mix: {p: 1}, quantity: {exponential: 3}}
        """
    )
    orders = stream_orders(plant, seed=9, horizon=60_000.0)
    for until in (20_000.0, 45_000.0, None):
        model = PlantModel(plant, orders=orders, seed=9)
        model.run(until)
        res = model.result(until if until is not None else model.env.now)
        inside = model.units_in_plant()
        finished = int(res.kpis["units_good"])
        scrapped = int(res.kpis["units_scrapped"])
        assert model.units_entered == finished + scrapped + sum(inside.values()), (until, inside)
        if until is None:
            assert sum(inside.values()) == 0
            assert res.orders["completion"].notna().all()
