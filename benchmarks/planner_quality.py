"""Planner quality beside the plain OR-Tools job-shop model, in the same run, at the same limit.

For each classic instance: plantwin's planner (`planner.solve`; a pure job shop gets the
plain formulation itself, `planner/jobshop.py`, and no dispatch-rule hint) and, in the same
run, the plain job-shop model of OR-Tools' `minimal_jobshop_sat.py` sample (one interval
per task, no_overlap per machine, precedences, minimise the makespan), same time limit,
workers and seed. For both the limit covers the model build: CP-SAT gets what is left of
it. Prints makespan, gap to the best known value, status, time to the best solution and
wall seconds, and a verdict: `better`, `WORSE`, `tie`, or `tie (same model,
deterministic)` where both ran the same model to the same deterministic limit (a tie by
construction, said so rather than counted as a win). `--ablation` adds what the planner did
before (its general model with the best dispatch rule as hint) and the plain model with
that hint, at the same limits. Then the demo plant's whole order book (makespan and
tardiness objectives; not a pure job shop): the planner against the same CP-SAT model
without the warm start. The machine's load average is printed before and after.

Wall-clock limits make the figures depend on the machine's load; `--work-limit W` gives
every run the same deterministic budget (CP-SAT's interleaved search: reproducible, but
slow per wall second on 2 busy cores, about 0.5 deterministic seconds in 15-60 s of wall
at load 7, so keep W small and --time-limit large enough that no run hits it; a run that
does is marked `*`).

    .venv/bin/python benchmarks/planner_quality.py [--time-limit 60] [--workers 2] [--only ft10,demo]
        [--work-limit 0.5 --time-limit 300]   # deterministic: the same table on any load
        [--ablation]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ortools.sat.python import cp_model

from planner.data import build_problem
from planner.jobshop import is_pure_job_shop
from planner.results import PlanResult
from planner.solver import best_dispatch, run_model, solve
from twin.jssp import jssp_from_text
from twin.loader import load_orders, load_plant, shipped_orders_path
from twin.orders import Order
from twin.plant import Plant
from twin.samples import sample_path

HERE = Path(__file__).parent
OPTIMA = {
    "ta11": 1357,
    "swv01": 1407,
    "yn1": 884,
    "ft10": 930,
    "orb01": 1059,
    "ft06": 55,
    "la01": 666,
    "la02": 655,
    "la03": 597,
    "la04": 590,
    "la05": 593,
    "ta01": 1231,
}
"""Optimal makespans (all proven; see instances/SOURCES.md)."""
DEFAULT = ("ta11", "swv01", "yn1", "ft10", "orb01")


class _Best(cp_model.CpSolverSolutionCallback):
    def __init__(self) -> None:
        super().__init__()
        self.last: float | None = None

    def on_solution_callback(self) -> None:
        self.last = self.wall_time


def yardstick(
    text: str, time_limit: float, workers: int, work_limit: float | None = None, seed: int = 0
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
    solver.parameters.max_time_in_seconds = max(0.05, time_limit - (time.perf_counter() - t0))
    if work_limit is not None:  # the planner's deterministic mode, same parameters
        solver.parameters.max_deterministic_time = work_limit
        solver.parameters.interleave_search = True
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed  # the planner's seed (CP-SAT's default is 1)
    best = _Best()
    status = solver.solve(model, best)
    value = int(solver.objective_value) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    return value, solver.best_objective_bound, solver.status_name(status), best.last, time.perf_counter() - t0


def _gap(value: float | None, optimum: float) -> str:
    return "-" if value is None else f"{(value - optimum) / optimum:.1%}"


def _t(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def _ablation(name: str, plant: Plant, orders: list[Order], opt: int, args: argparse.Namespace) -> str:
    """The previous path (general model + best dispatch rule as hint) and the plain model with that hint."""
    cells = []
    t0 = time.perf_counter()
    problem = build_problem(plant, orders)
    rule, hint = best_dispatch(problem, "makespan")
    rule_value = max(p.end for p in hint.values())
    for lean in (False, True):
        r, _, _ = run_model(
            problem, plant.content_hash(), objective="makespan", time_limit=args.time_limit,
            workers=args.workers, seed=0, hint=hint, work_limit=args.work_limit,
            created_by="benchmark (ablation)", started=t0, lean=lean,
        )  # fmt: skip
        cells.append(f"{r.makespan:>5.0f} {_gap(r.makespan, opt):>6} {r.seconds:>6.1f} s")
        t0 = time.perf_counter()
    dispatch_cell = f"{rule_value:>5} {_gap(rule_value, opt):>6} {rule:>3}"
    return f"{name:8} | {dispatch_cell} | {cells[0]:>22} | {cells[1]:>22}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--work-limit",
        type=float,
        default=None,
        help="CP-SAT deterministic seconds for both (load-independent; --time-limit caps the wall)",
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="also run the general model and the plain model, both with the dispatch-rule hint",
    )
    parser.add_argument(
        "--plain-first",
        action="store_true",
        help="run the plain model before ours on each instance (to see what the run order does)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated names (default: ta11,swv01,yn1,ft10,orb01 and demo)"
    )
    args = parser.parse_args()
    only = [n for n in args.only.split(",") if n]
    names = [n for n in (only or DEFAULT) if n in OPTIMA]
    work = "" if args.work_limit is None else f", deterministic limit {args.work_limit:g} for both"
    print(
        f"time limit {args.time_limit:g} s (covering the model build){work}, {args.workers} workers; "
        f"ours = planner.solve, plain = OR-Tools sample model; {_load()}"
    )
    head = (
        f"{'instance':8} {'best':>5} | {'ours':>5} {'gap':>6} {'status':>8} {'t_best':>6} {'secs':>6} | "
        f"{'plain':>5} {'gap':>6} {'status':>8} {'t_best':>6} {'secs':>6} | verdict"
    )
    print(head)
    print("-" * len(head))
    ablation: list[str] = []
    capped = False
    for name in names:
        text = (HERE / "instances" / name).read_text()
        plant, orders = jssp_from_text(text, name, name)
        if args.plain_first:
            plain = yardstick(text, args.time_limit, args.workers, args.work_limit)
        ours = solve(
            plant, orders, time_limit=args.time_limit, workers=args.workers, work_limit=args.work_limit
        )
        if not args.plain_first:
            plain = yardstick(text, args.time_limit, args.workers, args.work_limit)
        opt = OPTIMA[name]
        same = is_pure_job_shop(build_problem(plant, orders), "makespan")
        hit = args.work_limit is not None and max(ours.seconds, plain[4]) >= args.time_limit - 0.5
        capped = capped or hit
        if plain[0] is None or ours.makespan < plain[0]:
            verdict = "better"
        elif ours.makespan == plain[0]:
            deterministic = args.work_limit is not None and not hit
            verdict = "tie (same model, deterministic)" if same and deterministic else "tie"
        else:
            verdict = "WORSE"
        verdict += " *" if hit else ""
        print(
            f"{name:8} {opt:>5} | {ours.makespan:>5.0f} {_gap(ours.makespan, opt):>6} "
            f"{ours.status:>8} {_t(ours.time_to_best):>6} {ours.seconds:>6.1f} | "
            f"{plain[0] if plain[0] is not None else '-':>5} {_gap(plain[0], opt):>6} {plain[2]:>8} "
            f"{_t(plain[3]):>6} {plain[4]:>6.1f} | {verdict}",
            flush=True,
        )
        if args.ablation:
            ablation.append(_ablation(name, plant, orders, opt, args))
    if capped:
        print("* the wall cap (--time-limit) stopped a run before its deterministic limit: not reproducible")
    if ablation:
        print()
        print("ablation, same limits: what the planner used before (general model + dispatch-rule hint)")
        print("and the plain model with that hint; makespan (gap to best known) and wall seconds")
        print(f"{'instance':8} | {'dispatch':>16} | {'general+hint':>22} | {'plain+hint':>22}")
        print("\n".join(ablation))
    if only and "demo" not in only:
        print(_load())
        return
    path = sample_path("demo")
    assert path is not None
    plant, _ = load_plant(path)
    orders_path = shipped_orders_path(path, plant)
    assert orders_path is not None
    orders = load_orders(orders_path, plant)
    print()
    print(f"demo plant: {len(orders)} orders, whole order book; plain = the same CP-SAT model, no warm start")
    print(
        f"{'objective':10} | {'ours':>10} {'bound':>10} {'gap':>7} {'secs':>6} | "
        f"{'plain':>10} {'bound':>10} {'gap':>7} {'secs':>6} | ours<=plain"
    )
    for objective in ("makespan", "tardiness"):
        r = solve(
            plant, orders, objective=objective, time_limit=args.time_limit, workers=args.workers,
            work_limit=args.work_limit,
        )  # fmt: skip
        t0 = time.perf_counter()
        cold, _, _ = run_model(
            build_problem(plant, orders), plant.content_hash(), objective=objective,
            time_limit=args.time_limit, workers=args.workers, seed=0, hint=None,
            work_limit=args.work_limit, created_by="benchmark (no warm start)", started=t0,
        )  # fmt: skip
        ok = "yes" if cold.objective is None or (r.objective or 0) <= cold.objective + 1e-6 else "NO"

        def cell(x: PlanResult) -> str:
            gap = "-" if x.gap is None else f"{x.gap:.1%}"
            value = "-" if x.objective is None else f"{x.objective:.0f}"
            bound = "-" if x.bound is None else f"{x.bound:.0f}"
            return f"{value:>10} {bound:>10} {gap:>7} {x.seconds:>6.1f}"

        print(f"{objective:10} | {cell(r)} | {cell(cold)} | {ok}", flush=True)
    print(
        "(makespan objective/bound in working seconds of the plant calendar; tardiness in weighted seconds)"
    )
    print(_load())


if __name__ == "__main__":
    main()
