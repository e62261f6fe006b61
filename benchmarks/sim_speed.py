"""Simulator speed: plantwin's full model against a bare SimPy model, and the demo plant's week.

Prints a table:
1. a 10-station tandem line (buffers of 5 between stations, exponential times, Poisson
   arrivals), 100,000 parts, run in this process as a plant file through `sim.simulate`
   (results and KPIs included) and as a bare hand-written SimPy model (Store-based,
   nothing recorded but the sojourn times) as the yardstick, alternately, twice each
   (best time kept); parts per second for each and their ratio (target >= 0.7);
2. wall time of one simulated week of the demo plant;
3. wall time of 100 replications of that week on a local pool of 2 processes (target < 60 s).

Usage: python benchmarks/sim_speed.py [--parts N] [--replications N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim import replicate, simulate
from twin.loader import load_orders, load_plant, plant_from_text, shipped_orders_path
from twin.orders import Order
from twin.samples import sample_path

STATIONS = 10
BUFFER = 5
INTERARRIVAL = 10.0
SERVICE = [7.0, 8.0, 6.5, 7.5, 8.0, 6.0, 7.0, 7.5, 8.0, 6.5]
WEEK = 7 * 86400.0


def tandem_yaml() -> str:
    stations = "\n".join(
        f"      - {{id: s{i}{'' if i == 0 else f', buffer: {BUFFER}'}}}" for i in range(STATIONS)
    )
    ops = "\n".join(
        f"      - {{id: op{i}, stations: s{i}, time: {{exponential: {SERVICE[i]}}}}}" for i in range(STATIONS)
    )
    return f"""
name: tandem10
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations:
{stations}
products:
  - id: part
    routing:
{ops}
"""


def poisson_orders(n: int, seed: int) -> list[Order]:
    rng = random.Random(seed)
    t = 0.0
    out = []
    for i in range(n):
        t += rng.expovariate(1.0 / INTERARRIVAL)
        out.append(Order(f"P{i:06d}", "part", 1, t, t + 3600.0))
    return out


def bare_simpy(n: int, seed: int) -> float:
    """The yardstick: Store-based tandem line; returns the mean sojourn time."""
    env = simpy.Environment()
    rng = random.Random(seed)
    stores = [simpy.Store(env)] + [simpy.Store(env, capacity=BUFFER) for _ in range(STATIONS - 1)]
    sojourn: list[float] = []

    def source():
        for _ in range(n):
            yield env.timeout(rng.expovariate(1.0 / INTERARRIVAL))
            yield stores[0].put(env.now)

    def station(i: int):
        rate = 1.0 / SERVICE[i]
        qin = stores[i]
        qout = stores[i + 1] if i + 1 < STATIONS else None
        while True:
            born = yield qin.get()
            yield env.timeout(rng.expovariate(rate))
            if qout is None:
                sojourn.append(env.now - born)
            else:
                yield qout.put(born)

    env.process(source())
    for i in range(STATIONS):
        env.process(station(i))
    env.run()
    return sum(sojourn) / len(sojourn)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", type=int, default=100_000)
    ap.add_argument("--replications", type=int, default=100)
    args = ap.parse_args()
    rows: list[tuple[str, str, str]] = []

    plant, _ = plant_from_text(tandem_yaml(), "tandem10.yaml")
    orders = poisson_orders(args.parts, 1)
    # Alternate the two models (twice each) and keep each one's best time: other load on
    # the machine then hits both alike.
    t_plantwin = t_bare = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        res = simulate(plant, orders, seed=1)
        t_plantwin = min(t_plantwin, time.perf_counter() - t0)
        t0 = time.perf_counter()
        w_bare = bare_simpy(args.parts, 1)
        t_bare = min(t_bare, time.perf_counter() - t0)
    pw, bare = args.parts / t_plantwin, args.parts / t_bare
    rows.append(("tandem10 plantwin (full model + result)", f"{t_plantwin:.2f} s", f"{pw:,.0f} parts/s"))
    rows.append(("tandem10 bare SimPy (Store-based)", f"{t_bare:.2f} s", f"{bare:,.0f} parts/s"))
    rows.append(("ratio plantwin / bare (target >= 0.7)", "", f"{pw / bare:.2f}"))
    rows.append(
        ("  mean sojourn plantwin / bare", "", f"{res.kpis['lead_time_mean']:.1f} s / {w_bare:.1f} s")
    )

    path = sample_path("demo")
    assert path is not None
    demo, _ = load_plant(path)
    book_path = shipped_orders_path(path, demo)
    assert book_path is not None
    book = load_orders(book_path, demo)
    t0 = time.perf_counter()
    simulate(demo, book, until=WEEK, seed=1)
    rows.append(("demo plant, one week", f"{time.perf_counter() - t0:.2f} s", ""))
    t0 = time.perf_counter()
    reps = replicate(demo, book, until=WEEK, replications=args.replications, seed=1)
    t_reps = time.perf_counter() - t0
    rows.append(
        (f"demo plant, {args.replications} replications, 2 processes (target < 60 s)", f"{t_reps:.1f} s", "")
    )
    est = reps.kpis["throughput_per_hour"]
    rows.append(("  throughput per hour, 95% CI", "", f"{est.mean:.2f} [{est.low:.2f}, {est.high:.2f}]"))

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'wall':>9}  result")
    for name, wall, result in rows:
        print(f"{name:<{width}}  {wall:>9}  {result}")


if __name__ == "__main__":
    main()
