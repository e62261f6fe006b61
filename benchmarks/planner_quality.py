"""Planner quality on classic job shops, beside the plain OR-Tools job-shop model, and on the demo plant.

For each instance: plantwin's planner (`planner.solve`, the full model: alternatives,
setup circuits, calendars, warm start from a dispatch rule) and, in the same run, the
plain job-shop formulation of OR-Tools' `minimal_jobshop_sat.py` sample (one interval
per task, no_overlap per machine, precedences, minimise the makespan) with the same time
limit and workers. Prints makespan, gap to the known optimum, proven bound, status, time
to the best solution and total seconds. Then the demo plant's whole order book (makespan
and tardiness objectives): makespan, bound and gap.

    .venv/bin/python benchmarks/planner_quality.py [--time-limit 60] [--workers 2] [--only ft06,la01]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ortools.sat.python import cp_model

from planner.solver import solve
from twin.jssp import jssp_from_text
from twin.loader import load_orders, load_plant, shipped_orders_path
from twin.samples import sample_path

HERE = Path(__file__).parent
OPTIMA = {
    "ft06": 55,
    "ft10": 930,
    "la01": 666,
    "la02": 655,
    "la03": 597,
    "la04": 590,
    "la05": 593,
    "ta01": 1231,
}


class _Best(cp_model.CpSolverSolutionCallback):
    def __init__(self) -> None:
        super().__init__()
        self.last: float | None = None

    def on_solution_callback(self) -> None:
        self.last = self.wall_time


def yardstick(
    text: str, time_limit: float, workers: int
) -> tuple[int | None, float, str, float | None, float]:
    """The plain OR-Tools job-shop model: (makespan, bound, status, time to best, seconds)."""
    t0 = time.perf_counter()
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    n, m = map(int, rows[0].split())
    jobs = []
    for row in rows[1 : n + 1]:
        v = list(map(int, row.split()))
        jobs.append([(v[2 * k], v[2 * k + 1]) for k in range(m)])
    # horizon from the data; variables; constraints; objective
    horizon = sum(t for job in jobs for _, t in job)
    model = cp_model.CpModel()
    starts, ends, per_machine = {}, {}, {i: [] for i in range(m)}
    for j, job in enumerate(jobs):
        for k, (machine, duration) in enumerate(job):
            s = model.new_int_var(0, horizon, f"s{j}_{k}")
            e = model.new_int_var(0, horizon, f"e{j}_{k}")
            per_machine[machine].append(model.new_interval_var(s, duration, e, f"i{j}_{k}"))
            starts[j, k], ends[j, k] = s, e
    for intervals in per_machine.values():
        model.add_no_overlap(intervals)
    for j, job in enumerate(jobs):
        for k in range(len(job) - 1):
            model.add(starts[j, k + 1] >= ends[j, k])
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, [ends[j, len(job) - 1] for j, job in enumerate(jobs)])
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    best = _Best()
    status = solver.solve(model, best)
    value = int(solver.objective_value) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    return value, solver.best_objective_bound, solver.status_name(status), best.last, time.perf_counter() - t0


def _gap(value: float | None, optimum: float) -> str:
    return "-" if value is None else f"{(value - optimum) / optimum:.1%}"


def _t(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--only", default="", help="comma-separated instance names (default: all, and the demo)"
    )
    args = parser.parse_args()
    names = [n for n in OPTIMA if not args.only or n in args.only.split(",")]
    print(
        f"time limit {args.time_limit:g} s, {args.workers} workers; "
        "ours = planner.solve, plain = OR-Tools sample model"
    )
    head = (
        f"{'instance':8} {'opt':>5} | {'ours':>5} {'gap':>6} {'bound':>6} {'status':>8} "
        f"{'t_best':>6} {'secs':>6} | "
        f"{'plain':>5} {'gap':>6} {'status':>8} {'t_best':>6} {'secs':>6}"
    )
    print(head)
    print("-" * len(head))
    for name in names:
        text = (HERE / "instances" / name).read_text()
        plant, orders = jssp_from_text(text, name, name)
        ours = solve(plant, orders, time_limit=args.time_limit, workers=args.workers)
        plain = yardstick(text, args.time_limit, args.workers)
        opt = OPTIMA[name]
        print(
            f"{name:8} {opt:>5} | {ours.makespan:>5.0f} {_gap(ours.makespan, opt):>6} "
            f"{ours.bound or 0:>6.0f} "
            f"{ours.status:>8} {_t(ours.time_to_best):>6} {ours.seconds:>6.1f} | "
            f"{plain[0] if plain[0] is not None else '-':>5} {_gap(plain[0], opt):>6} {plain[2]:>8} "
            f"{_t(plain[3]):>6} {plain[4]:>6.1f}",
            flush=True,
        )
    if args.only and "demo" not in args.only.split(","):
        return
    path = sample_path("demo")
    assert path is not None
    plant, _ = load_plant(path)
    orders_path = shipped_orders_path(path, plant)
    assert orders_path is not None
    orders = load_orders(orders_path, plant)
    print()
    print(f"demo plant: {len(orders)} orders, whole order book")
    print(
        f"{'objective':10} {'status':>8} {'value':>10} {'bound':>10} {'gap':>7} "
        f"{'makespan_h':>10} {'late':>4} {'secs':>6}"
    )
    for objective in ("makespan", "tardiness"):
        r = solve(plant, orders, objective=objective, time_limit=args.time_limit, workers=args.workers)
        gap = "-" if r.gap is None else f"{r.gap:.1%}"
        print(
            f"{objective:10} {r.status:>8} {r.objective or 0:>10.0f} {r.bound or 0:>10.0f} {gap:>7} "
            f"{r.makespan / 3600:>10.1f} {len(r.late_orders):>4} {r.seconds:>6.1f}",
            flush=True,
        )
    print(
        "(makespan objective/bound in working seconds of the plant calendar; tardiness in weighted seconds)"
    )


if __name__ == "__main__":
    main()
