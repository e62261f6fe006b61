"""How fast the plan-vs-actual page becomes interactive with a large history, measured in the browser.

Builds a history file (through HistoryStore) with RUNS runs (a plan, its simulation, its verdict
and a scenario run per synthetic week) and EVENTS actual floor events, serves the dashboard on a
free 127.0.0.1 port, and opens /plan-vs-actual in headless Debian chromium. "Interactive" is the
moment the Gantt and the output chart have drawn their traces, the orders-at-risk section is
filled and no Dash callback is pending; the time is the browser's performance.now() then (ms since
navigation start). Also timed: choosing another plan in the page until both charts are redrawn.

    .venv/bin/python benchmarks/dashboard_speed.py [--events 1000000] [--runs 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# its test server and the synthetic history (test support, not installed)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dashboards"))

from synthetic_history import (
    actual_frames,
    greedy_schedule,
    process_values,
    shifted_orders,
    simulated_frames,
    verdict_of,
)

from dashboards.app import create_app
from dashboards.components import DashboardConfig
from dashboards.history_services import HistoryServices
from twin.history import HistoryStore
from twin.loader import load_orders, load_plant, shipped_orders_path
from twin.plant import Plant
from twin.samples import sample_path
from twin.schedule import Schedule

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY = """() => {
  const gantt = document.querySelectorAll('#pva-gantt .trace.bars').length;
  const output = document.querySelectorAll('#pva-output .scatterlayer .trace').length;
  const risk = document.querySelector('#pva-risk') && document.querySelector('#pva-risk').children.length;
  const busy = document.querySelector('[data-dash-is-loading="true"]');
  return gantt >= 1 && output >= 2 && risk && !busy;
}"""


def build(path: Path, runs: int, events: int, seed: int) -> tuple[list[str], int, float]:
    """A history of `runs` runs (4 a week) and `events` floor events: (plan ids, events, seconds)."""
    src = sample_path("demo")
    assert src is not None
    plant, _ = load_plant(src)
    book = load_orders(shipped_orders_path(src, plant), plant)
    weeks = max(1, runs // 4)
    started = time.perf_counter()
    plans: list[str] = []
    written = 0
    with HistoryStore(path) as store:
        schedules = []
        for w in range(weeks):
            orders = shifted_orders(book, w, f"W{w:03d}-")
            schedule = greedy_schedule(plant, orders)
            plan = store.record_run(
                "plan", started_by="benchmark", plant=plant, orders=orders, params={"name": f"week {w}"}
            )
            store.add_schedule(plan, schedule)
            ops, ords, states = simulated_frames(orders, schedule, 10, seed + w)
            sim = store.record_run(
                "simulation", started_by="benchmark", plant=plant, orders=orders, parent=plan
            )
            store.add_simulation(sim, operations=ops, orders=ords, states=states)
            v = store.record_run("verdict", started_by="benchmark", plant=plant, parent=plan)
            store.add_verdict(v, verdict_of(schedule, ords, seed=seed + w))
            store.record_run(
                "scenario", started_by="benchmark", plant=plant, parent=plan, params={"scenario": "rush-fits"}
            )
            plans.append(plan)
            schedules.append(schedule)
        # floor events from the newest week back (the newest plan is under way: 60 % done), then
        # weeks before the first plan until the target is reached
        for w in range(weeks - 1, -1, -1):
            if written >= events:
                break
            done = 0.6 if w == weeks - 1 else 1.0
            ev = _events_only(plant, schedules[w], seed + w, done)
            written += store.add_actual_events(ev.iloc[-(events - written) :])
        w = -1
        while written < events:
            orders = shifted_orders(book, w, f"X{-w:03d}-")
            ev = _events_only(plant, greedy_schedule(plant, orders), seed + 1000 - w, 1.0)
            written += store.add_actual_events(ev.iloc[-(events - written) :])
            w -= 1
        last = max(o.end for o in store.get_schedule(plans[-1]).operations)
        store.add_actual_values(process_values(plant, last - 86400.0, last, seed))
    return plans, written, time.perf_counter() - started


def _events_only(plant: Plant, schedule: Schedule, seed: int, done: float) -> pd.DataFrame:
    """The floor events of the first `done` share of a plan (process values left out: not this page)."""
    first = min(o.start for o in schedule.operations)
    events, _values = actual_frames(plant, schedule, first + (schedule.makespan - first) * done + 1.0, seed)
    return events


def measure(url: str, plans: list[str], repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"first visit": [], "returning": [], "switch plan": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        first = browser.new_context(viewport={"width": 1366, "height": 768})
        out["first visit"].append(_load(first.new_page(), url))
        first.close()
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        _load(context.new_page(), url)  # fill the browser cache: a returning user
        for i in range(repeat):
            page = context.new_page()
            out["returning"].append(_load(page, url))
            other = plans[-2 - i % max(1, len(plans) - 1)]
            page.locator("#pva-plan").click()
            t0 = page.evaluate("() => performance.now()")
            page.get_by_role("option", name=other).click()
            page.wait_for_function(
                "([id, ready]) => { const t = document.querySelector('#pva-gantt .gtitle');"
                " return t && t.textContent.includes(id) && eval(ready)(); }",
                arg=[other, READY],
                timeout=120_000,
                polling="raf",
            )
            out["switch plan"].append(page.evaluate("() => performance.now()") - t0)
            page.close()
        browser.close()
    return out


def baseline(repeat: int) -> list[float]:
    """The same measure for a bare Dash page with one small plotly chart: this machine's floor."""
    import dash
    import plotly.graph_objects as go
    from dash import dcc, html
    from dashboard_support import Served
    from playwright.sync_api import sync_playwright

    bare = dash.Dash(__name__)
    bare.layout = html.Div([dcc.Graph(id="g", figure=go.Figure(go.Scatter(x=[1, 2], y=[1, 2])))])
    served = Served(bare.server)
    out = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1366, "height": 768})
            for i in range(repeat + 1):
                page = context.new_page()
                page.goto(served.url)
                page.wait_for_function("() => document.querySelector('#g .main-svg')", polling="raf")
                if i:  # the first fills the cache
                    out.append(float(page.evaluate("() => performance.now()")))
                page.close()
            browser.close()
    finally:
        served.close()
    return out


def _load(page: Any, url: str) -> float:
    """Open the page; ms from navigation start until it is interactive."""
    page.goto(url + "/plan-vs-actual")
    page.wait_for_function(READY, timeout=120_000, polling="raf")
    return float(page.evaluate("() => performance.now()"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is absent: install Debian's chromium (make browser)")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.duckdb"
        plans, events, build_s = build(db, args.runs, args.events, args.seed)
        store = HistoryStore(db)
        n_runs = len(store.list_runs(limit=100_000))
        services = HistoryServices(store)
        app = create_app(services, config=DashboardConfig(refresh_ms=60_000))
        from dashboard_support import Served

        served = Served(app.server)
        try:
            load_before = os.getloadavg()
            times = measure(served.url, plans, args.repeat)
            times["bare Dash page, 1 chart"] = baseline(args.repeat)
            load_after = os.getloadavg()
        finally:
            served.close()
            store.close()
    print(f"history: {n_runs} runs, {events:,} actual events (built in {build_s:.1f} s)")
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores")
    rows = [(name, len(v), statistics.median(v) / 1000, max(v) / 1000) for name, v in times.items() if v]
    table = pd.DataFrame(rows, columns=["measure", "n", "median s", "max s"])
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print("target: interactive in < 2 s. 'returning': plotly.js etc. in the browser cache; the bare page is")
    print("the floor any Dash page with a plotly chart has on this machine now (CPU shared: see the load).")


if __name__ == "__main__":
    main()
