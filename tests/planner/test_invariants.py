"""Property tests on small random job shops: CP-SAT equals brute force; every rule is feasible."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.solver import dispatch_schedule, solve
from twin.jssp import jssp_from_text


@st.composite
def job_shops(draw: st.DrawFn, max_jobs: int = 3, max_machines: int = 3) -> str:
    n = draw(st.integers(1, max_jobs))
    m = draw(st.integers(1, max_machines))
    rows = []
    for _ in range(n):
        order = draw(st.permutations(range(m)))
        # positive times: the brute force holds the machine for every operation, while the parser
        # drops a zero-time operation (it holds no machine), so zeros would compare two models
        times = draw(st.lists(st.integers(1, 9), min_size=m, max_size=m))
        rows.append(" ".join(f"{a} {t}" for a, t in zip(order, times, strict=True)))
    return f"{n} {m}\n" + "\n".join(rows) + "\n"


def brute_force_makespan(text: str) -> int:
    """Optimum by enumerating every machine sequence (semi-active schedules, cycles skipped)."""
    lines = text.split("\n")
    n, m = map(int, lines[0].split())
    jobs = []
    for row in lines[1 : n + 1]:
        v = list(map(int, row.split()))
        jobs.append([(v[2 * k], v[2 * k + 1]) for k in range(m)])
    best = None
    for seqs in itertools.product(*(list(itertools.permutations(range(n))) for _ in range(m))):
        end: dict[tuple[int, int], int] = {}
        pos = [0] * n  # next op index per job
        mpos = [0] * m  # next job index per machine sequence
        m_free = [0] * m
        progressed = True
        while progressed:
            progressed = False
            for j in range(n):
                if pos[j] >= m:
                    continue
                mach, t = jobs[j][pos[j]]
                if seqs[mach][mpos[mach]] != j:
                    continue
                start = max(m_free[mach], end.get((j, pos[j] - 1), 0))
                end[(j, pos[j])] = start + t
                m_free[mach] = start + t
                pos[j] += 1
                mpos[mach] += 1
                progressed = True
        if all(p == m for p in pos):
            makespan = max(end.values(), default=0)
            best = makespan if best is None else min(best, makespan)
    assert best is not None
    return best


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(job_shops())
def test_cp_sat_matches_brute_force_and_rules_are_feasible(feasible, text: str) -> None:
    plant, orders = jssp_from_text(text, "<random>", "rnd")
    result = solve(plant, orders, time_limit=5, workers=1)
    assert result.status == "OPTIMAL"
    assert result.makespan == brute_force_makespan(text)
    feasible(plant, orders, result.schedule)
    for rule in ("EDD", "SPT", "ATC"):
        heuristic = dispatch_schedule(plant, orders, rule=rule)
        feasible(plant, orders, heuristic)
        assert heuristic.makespan >= result.makespan


def test_rules_on_the_demo_plant_are_feasible_and_fast(demo_plant, demo_orders, feasible) -> None:
    import time

    for rule in ("EDD", "SPT", "ATC"):
        t0 = time.perf_counter()
        schedule = dispatch_schedule(demo_plant, demo_orders, rule=rule)
        assert time.perf_counter() - t0 < 5.0  # well under a second unloaded; generous on a busy CI box
        feasible(demo_plant, demo_orders, schedule)
        assert schedule.created_by == f"planner.dispatch ({rule})"


def test_unknown_rule_is_refused(jobshop3x3) -> None:
    plant, orders = jobshop3x3
    with pytest.raises(ValueError, match="rule must be one of"):
        dispatch_schedule(plant, orders, rule="FIFO")
