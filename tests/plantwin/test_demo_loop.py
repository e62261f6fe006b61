"""`plantwin demo` end to end: two real demo processes on one history, shared by the tests of
this module. The first is bounded by its own --duration (its rush order 2 s after the first
dispatch, so a short run plays it); when it has stopped, the history it leaves is checked: plan,
accepted verdict, dispatch, actual events whose totals equal the virtual plant's own counters, the
rush order's re-plan and its verdict. The second continues from that history and runs until the
tests stop it: while it runs, a headless chromium watches the floor page update; then Ctrl-C stops
it cleanly and the history shows the continuation. Every wait is bounded and on a condition (a line
of the demo's output, the page's text, the process's exit), never a fixed sleep."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import CHROMIUM, CHROMIUM_ARGS, free_port

from twin.history import HistoryStore

FIRST_DURATION = "20s"
"""The first run's --duration: enough for start, plan, dispatch, the rush re-plan and a floor that
makes hundreds of parts at 600x; a slower machine overruns it to finish the rush (demo's GRACE)."""


@dataclass
class DemoProcess:
    proc: subprocess.Popen[str]
    db: Path
    url: str
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_until(self, found: Callable[[list[str]], bool], what: str, timeout: float) -> None:
        """Until `found(lines so far)` holds (looked at every 0.2 s), at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found(list(self.lines)):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {what} in the demo's output:\n{self.stderr()}")

    def wait_for(self, text: str, timeout: float) -> None:
        self.wait_until(lambda lines: any(text in line for line in lines), repr(text), timeout)

    def finish(self, timeout: float = 240.0) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.reader is not None:
            self.reader.join(timeout=5)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def start_demo(args: list[str], db: Path) -> DemoProcess:
    """`plantwin demo --speed high --no-browser --db DB --port (free) ARGS`, stderr read by a thread."""
    port = free_port()
    cmd = [sys.executable, "-m", "plantwin.cli", "demo", "--speed", "high", "--no-browser",
           "--db", str(db), "--port", str(port), *args]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "PLANTWIN_DB": str(db.parent / "unused.duckdb")}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=db.parent
    )
    run = DemoProcess(proc, db, f"http://127.0.0.1:{port}/")

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            run.lines.append(line.rstrip("\n"))

    run.reader = threading.Thread(target=pump, daemon=True)
    run.reader.start()
    return run


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    """The first run: a fresh history, bounded by --duration, with the scripted rush order."""
    db = tmp_path_factory.mktemp("demo") / "history.duckdb"
    run = start_demo(["--duration", FIRST_DURATION, "--rush-after", "2s"], db)
    yield run
    run.close()


@pytest.fixture(scope="module")
def second(demo: DemoProcess) -> Iterator[DemoProcess]:
    """The second run on the same --db (no --fresh), started once the first has stopped; it runs
    until a test stops it (no --duration, no rush order)."""
    assert demo.finish() == 0, demo.stderr()
    run = start_demo(["--no-rush"], demo.db)
    yield run
    run.close()


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


@pytest.mark.browser
def test_the_floor_page_updates_while_the_demo_runs(second: DemoProcess) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (make browser)")
    from playwright.sync_api import sync_playwright

    second.wait_for("dashboard at", timeout=120)
    second.wait_for("released to the floor", timeout=180)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(second.url)
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


def _floor_worked_after_release(lines: list[str]) -> bool:
    """A status line after the first release that counts parts made (the floor works this run)."""
    released = [i for i, line in enumerate(lines) if "released to the floor" in line]
    return bool(released) and any(
        (m := re.search(r"connected  produced (\d+)", line)) is not None and int(m.group(1)) > 0
        for line in lines[released[0] :]
    )


def test_a_second_run_continues_from_the_history_and_stops_cleanly_on_ctrl_c(
    demo: DemoProcess, second: DemoProcess
) -> None:
    """Same --db again (no --fresh): the plant clock and counters resume, finished orders are not
    planned again, and the history grows. Ctrl-C (SIGINT) after the plan was made (CP-SAT resets
    SIGINT's handler when a solve ends), with the floor at work, still shuts down cleanly, with
    the run closed."""
    second.wait_for("released to the floor", timeout=180)
    second.wait_until(_floor_worked_after_release, "status line with parts made after the release", 60)
    second.proc.send_signal(signal.SIGINT)
    assert second.finish(timeout=60) == 0, second.stderr()
    second.close()  # the reader has all the lines
    assert "continuing" in second.stderr()
    with HistoryStore(demo.db, read_only=True) as store:
        runs = store.list_runs(kind="demo")  # newest first
        assert list(runs["status"]) == ["ok", "ok"]
        first, again = (_kpis(store, str(r)) for r in reversed(list(runs["id"])))
        assert store.get_run(str(runs["id"].iloc[0]))["params"]["resumed"] is True
        assert again["floor_counters_at_start"] == first["floor_counters"]
        assert again["plant_time_end"] > first["plant_time_end"]
        book = {o.id for o in store.get_orders(str(runs["id"].iloc[0]))}
        assert book and not book & set(first["completed_orders"])
        events = store.sql("SELECT sum(quantity) AS n FROM actual_events WHERE kind = 'produced'")
        assert int(events["n"].iloc[0]) == first["floor_produced"] + again["floor_produced"]
