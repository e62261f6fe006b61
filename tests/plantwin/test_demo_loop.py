"""`plantwin demo` end to end: one real demo process (virtual plant, sync, planner, history,
dashboard) shared by the tests of this module. While it runs, a headless chromium watches the
floor page update; when it has stopped (its own --duration), the history it leaves is checked:
plan, accepted verdict, dispatch, actual events whose totals equal the virtual plant's own
counters, the rush order's re-plan and its verdict."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import CHROMIUM, CHROMIUM_ARGS, free_port

from twin.history import HistoryStore


@dataclass
class DemoProcess:
    proc: subprocess.Popen[str]
    db: Path
    url: str
    lines: list[str] = field(default_factory=list)

    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} in the demo's output:\n{self.stderr()}")

    def finish(self, timeout: float = 90.0) -> int:
        return self.proc.wait(timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    tmp = tmp_path_factory.mktemp("demo")
    db, port = tmp / "history.duckdb", free_port()
    cmd = [sys.executable, "-m", "plantwin.cli", "demo", "--speed", "high", "--duration", "60s",
           "--no-browser", "--db", str(db), "--port", str(port)]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "PLANTWIN_DB": str(tmp / "unused.duckdb")}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp
    )
    run = DemoProcess(proc, db, f"http://127.0.0.1:{port}/")

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            run.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    yield run
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    reader.join(timeout=5)
    assert proc.stderr is not None
    proc.stderr.close()


@pytest.mark.browser
def test_the_floor_page_updates_while_the_demo_runs(demo: DemoProcess) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (make browser)")
    from playwright.sync_api import sync_playwright

    demo.wait_for("dashboard at", timeout=60)
    demo.wait_for("released to the floor", timeout=60)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(demo.url)
        cards = page.locator(".station-card")
        cards.first.wait_for(timeout=30_000)
        first = cards.all_inner_texts()
        # the floor page refreshes every 5 s; the plant makes parts every (wall) second
        page.wait_for_function(
            "(before) => Array.from(document.querySelectorAll('.station-card'))"
            ".map(e => e.innerText).join('|') !== before",
            arg="|".join(first),
            timeout=30_000,
        )
        later = cards.all_inner_texts()
        browser.close()
    assert len(first) == 11  # the demo plant's stations
    assert later != first
    assert errors == []


def _kpis(store: HistoryStore, run_id: str) -> dict[str, Any]:
    return store.get_run(run_id)["kpis"]


def test_the_history_holds_the_closed_loop(demo: DemoProcess) -> None:
    assert demo.finish() == 0, demo.stderr()
    with HistoryStore(demo.db, read_only=True) as store:
        demos = store.list_runs(kind="demo")
        assert len(demos) == 1 and demos["status"].iloc[0] == "ok"
        kpis = _kpis(store, str(demos["id"].iloc[0]))
        plans = store.list_runs(kind="plan")
        verdicts = store.list_runs(kind="verdict")
        dispatches = store.list_runs(kind="dispatch")
        assert len(plans) >= 2  # the week's plan and the rush order's re-plan
        assert (verdicts["status"] == "ok").any()  # an accepted verdict ...
        accepted_plan = verdicts.loc[verdicts["status"] == "ok", "parent"].iloc[-1]
        ok_dispatch = dispatches[dispatches["status"] == "ok"]
        assert accepted_plan in set(ok_dispatch["parent"])  # ... and the dispatch of that plan
        # the replications behind the verdict, under the plan, for the simulated output band
        sims = store.list_runs(kind="simulation")
        assert accepted_plan in set(sims["parent"])
        # the rush order: a re-plan holding it, and the simulator's verdict on that re-plan
        rush_plans = [p for p in plans["id"] if "rush" in (store.get_run(p)["params"] or {})]
        assert len(rush_plans) == 1, demo.stderr()
        rush_verdicts = verdicts[verdicts["parent"] == rush_plans[0]]
        assert len(rush_verdicts) == 1
        assert "RUSH-1" in set(store.get_verdict_orders(str(rush_verdicts["id"].iloc[0]))["order_id"])
        rush_ok = rush_verdicts["status"].iloc[0] == "ok"
        assert [o["id"] for o in kpis["rush_accepted"]] + kpis["rush_refused"] == ["RUSH-1"]
        assert (len(kpis["rush_accepted"]) == 1) == rush_ok
        assert (rush_plans[0] in set(ok_dispatch["parent"])) == rush_ok
        # actuals: the events' totals equal the virtual plant's own counters, exactly
        events = store.sql(
            "SELECT kind, sum(quantity) AS n FROM actual_events "
            "WHERE kind IN ('produced', 'scrapped') GROUP BY kind"
        )
        totals = dict(zip(events["kind"], events["n"].astype(int), strict=True))
        counters = kpis["floor_counters"]
        assert (
            totals.get("produced", 0) == sum(c["good"] for c in counters.values()) == kpis["floor_produced"]
        )
        assert (
            totals.get("scrapped", 0) == sum(c["reject"] for c in counters.values()) == kpis["floor_scrapped"]
        )
        assert kpis["floor_produced"] > 100  # the floor really worked the dispatched plan
        per_station = store.sql(
            "SELECT station, sum(quantity) AS n FROM actual_events WHERE kind = 'produced' GROUP BY station"
        )
        assert dict(zip(per_station["station"], per_station["n"].astype(int), strict=True)) == {
            s: c["good"] for s, c in counters.items() if c["good"]
        }
    assert "rush order RUSH-1" in demo.stderr()


def test_a_second_run_continues_from_the_history_and_stops_cleanly_on_ctrl_c(demo: DemoProcess) -> None:
    """Same --db again (no --fresh): the plant clock and counters resume, finished orders are not
    planned again, and the history grows. Ctrl-C (SIGINT) after the plan was made (CP-SAT resets
    SIGINT's handler when a solve ends) still shuts down cleanly, with the run closed."""
    if demo.proc.poll() is None:
        demo.finish()
    cmd = [sys.executable, "-m", "plantwin.cli", "demo", "--speed", "high", "--no-rush", "--no-browser",
           "--db", str(demo.db), "--port", str(free_port())]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=demo.db.parent
    )
    again = DemoProcess(proc, demo.db, "")
    reader = threading.Thread(target=lambda: again.lines.extend(line.rstrip() for line in proc.stderr or ()))
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while (
            not any("released to the floor" in line for line in again.lines) and time.monotonic() < deadline
        ):
            assert proc.poll() is None, again.stderr()
            time.sleep(0.2)
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        assert proc.stderr is not None
        proc.stderr.close()
    assert "continuing" in again.stderr()
    with HistoryStore(demo.db, read_only=True) as store:
        runs = store.list_runs(kind="demo")  # newest first
        assert list(runs["status"]) == ["ok", "ok"]
        first, second = (_kpis(store, str(r)) for r in reversed(list(runs["id"])))
        assert store.get_run(str(runs["id"].iloc[0]))["params"]["resumed"] is True
        assert second["floor_counters_at_start"] == first["floor_counters"]
        assert second["plant_time_end"] > first["plant_time_end"]
        book = {o.id for o in store.get_orders(str(runs["id"].iloc[0]))}
        assert book and not book & set(first["completed_orders"])
        events = store.sql("SELECT sum(quantity) AS n FROM actual_events WHERE kind = 'produced'")
        assert int(events["n"].iloc[0]) == first["floor_produced"] + second["floor_produced"]
