"""`plantwin dispatch`: only a schedule whose accepted verdict the history holds for exactly that
schedule, plant and order book reaches the floor. The walk-arounds a new user found are refused;
plan -> replan -> simulate -> dispatch and a what-if's plan go to a real virtual plant on
127.0.0.1; the dashboard's dispatch page shows the verdict found by hashes."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import CHROMIUM, CHROMIUM_ARGS, free_port
from typer.testing import CliRunner

from dashboards.history_services import HistoryServices
from plantwin.cli import app
from plantwin.common import open_plant
from plantwin.demo.floor import HeldVirtualPlant
from plantwin.web import DashboardThread
from twin.history import HistoryStore
from twin.plant import Plant
from twin.samples import sample_path
from twin.schedule import Schedule

pytestmark = pytest.mark.timeout(180)
PLANT = "jobshop3x3"
NOWHERE = "opc.tcp://127.0.0.1:9"  # nothing listens: a refusal must come before any connection
BOOK = (sample_path(PLANT).parent / "orders.csv").read_text()  # type: ignore[union-attr]


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def cli_json(*args: str) -> dict[str, Any]:
    code, out = cli(*args, "--json")
    assert code == 0, out
    return json.loads(out[out.index("{") :])


class Floor:
    """A virtual plant of jobshop3x3 on 127.0.0.1 in a thread of its own (the CLI runs its own
    event loop in the test's thread). Its clock stands still until `run()`: the simulator-driven
    floor would otherwise run an operation whose job order is still on the wire by its own rule."""

    def __init__(self, plant: Plant, shelf: Path) -> None:
        self.vp = HeldVirtualPlant(plant, port=0, speed=50.0, shelf=shelf)
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        started: Future[None] = Future()
        self._thread = threading.Thread(target=self._main, args=(started,), daemon=True)
        self._thread.start()
        started.result(timeout=60)

    def _main(self, started: Future[None]) -> None:
        async def run() -> None:
            self._stop = asyncio.Event()
            async with self.vp:
                started.set_result(None)
                await self._stop.wait()

        self._loop.run_until_complete(run())

    @property
    def endpoint(self) -> str:
        return self.vp.endpoint

    def run(self) -> None:
        self._loop.call_soon_threadsafe(self.vp.release_clock)

    def jobs(self) -> dict[str, str]:
        return {j: s.value for j, s in dict(self.vp.jobs.states).items()}

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self._loop.close()


@pytest.fixture
def floor(shelf: Path) -> Iterator[Floor]:
    plant, _, _ = open_plant(PLANT, warn=False)
    f = Floor(plant, shelf)
    yield f
    f.close()


@dataclass(frozen=True)
class Checked:
    """A history where a plan was re-planned for a rush order and the re-plan was simulated."""

    db: Path
    dir: Path
    plan: Path
    plan_run: str
    replan: Path
    replan_run: str
    book: Path
    verdict_run: str


def plan(db: Path, out: Path) -> str:
    return str(cli_json("plan", PLANT, "--out", str(out), "--db", str(db), "--time-limit", "5")["run_id"])


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    d = tmp_path_factory.mktemp("dispatch")
    db = d / "history.duckdb"
    plan_run = plan(db, d / "plan.json")
    (d / "rush.csv").write_text("id,product,quantity,release,due,weight\nR1,job2,1,0,60,1\n")
    (d / "live.json").write_text(json.dumps({"time": 0}))
    replan = cli_json(
        "replan", PLANT, "--schedule", str(d / "plan.json"), "--rush", str(d / "rush.csv"),
        "--live", str(d / "live.json"), "--out", str(d / "replan.json"), "--db", str(db),
    )  # fmt: skip
    (d / "book.csv").write_text(BOOK.rstrip("\n") + "\nR1,job2,1,0,60,1\n")  # the re-plan's book
    sim = cli_json(
        "simulate", PLANT, "--schedule", str(d / "replan.json"), "--orders", str(d / "book.csv"),
        "--replications", "3", "--min-on-time", "0.5", "--db", str(db),
    )  # fmt: skip
    assert sim["verdict"]["accepted"], sim["verdict"]
    return Checked(
        db, d, d / "plan.json", plan_run, d / "replan.json", str(replan["run_id"]), d / "book.csv",
        str(sim["verdict"]["run_id"]),
    )  # fmt: skip


def dispatch_runs(db: Path) -> list[dict[str, Any]]:
    with HistoryStore(db, read_only=True) as store:
        runs = store.list_runs(kind="dispatch")
        return [{**store.get_run(r)} for r in runs["id"]]


def test_plan_replan_simulate_then_dispatch_sends_every_job_order_to_a_virtual_plant(
    checked: Checked, floor: Floor
) -> None:
    with HistoryStore(checked.db, read_only=True) as store:
        cand = next(c for c in HistoryServices(store).candidates() if c.run_id == checked.replan_run)
        assert cand.verdict is not None and cand.verdict.accepted  # the dashboard finds it by hashes
        ops = store.get_schedule(checked.replan_run).operations
    out = cli_json("dispatch", checked.replan_run, "--endpoint", floor.endpoint, "--db", str(checked.db))
    assert out["dispatched"] and out["verdict_run"] == checked.verdict_run
    assert sorted(out["sent"]) == sorted(f"{o.order_id}/{o.op_index}" for o in ops) and not out["refused"]
    floor.run()
    deadline = time.monotonic() + 30
    while set(floor.jobs().values()) != {"Ended"} and time.monotonic() < deadline:
        time.sleep(0.1)  # the virtual floor works them (plant clock 50x)
    assert set(floor.jobs()) == set(out["sent"]) and set(floor.jobs().values()) == {"Ended"}
    run = next(r for r in dispatch_runs(checked.db) if r["id"] == out["run_id"])
    assert run["status"] == "ok" and run["parent"] == checked.replan_run
    assert run["params"]["verdict_run"] == checked.verdict_run and run["params"]["sent"] == len(ops)


def test_a_forged_verdict_file_is_no_longer_an_option(checked: Checked) -> None:
    forged = checked.dir / "forged.json"
    digest = Schedule.from_dict(json.loads(checked.plan.read_text())).content_hash()
    forged.write_text(json.dumps({"schedule_hash": digest, "accepted": True}))
    for command in (
        ["sync", PLANT, "--endpoint", NOWHERE, "--dispatch", str(checked.plan), "--verdict", str(forged)],
        ["dispatch", str(checked.plan), "--endpoint", NOWHERE, "--verdict", str(forged)],
    ):
        code, out = cli(*command)
        assert code == 2 and "No such option" in out, out
    # and the plan itself, never simulated, is refused for want of a verdict: nothing sent
    code, out = cli("dispatch", str(checked.plan), "--endpoint", NOWHERE, "--db", str(checked.db))
    assert code == 2 and "has no verdict" in out and checked.plan_run in out and "cannot connect" not in out


def test_a_schedule_of_another_plant_is_not_simulated(tmp_path: Path) -> None:
    demo_plan = tmp_path / "demo.json"
    code, out = cli("plan", "demo", "--rule", "EDD", "--out", str(demo_plan), "--no-history")
    assert code == 0, out
    db = tmp_path / "h.duckdb"
    code, out = cli("simulate", PLANT, "--schedule", str(demo_plan), "--replications", "2", "--db", str(db))
    assert code == 2 and "ACCEPTED" not in out
    assert "does not fit plant 'jobshop3x3'" in out and "station 'saw' is not in plant" in out
    assert "is not in the order book" in out
    # nor judged as the given baseline of a what-if on that plant
    (tmp_path / "given.yaml").write_text(
        f"name: given\nbase: {{plant: {PLANT}, schedule: {demo_plan}}}\n"
        "changes:\n  - {type: move_due, order: J0, later: 10}\n"
    )
    code, out = cli("whatif", str(tmp_path / "given.yaml"), "--db", str(db))
    assert code == 2 and "base.schedule" in out and "does not fit plant 'jobshop3x3'" in out, out
    assert not db.exists() or HistoryStore(db, read_only=True).list_runs(kind="verdict").empty


def test_a_schedule_edited_after_its_verdict_is_refused_and_the_refusal_recorded(checked: Checked) -> None:
    data = json.loads(checked.replan.read_text())
    data["operations"][-1]["start"] += 1.0
    data["operations"][-1]["end"] += 1.0
    edited = checked.dir / "edited.json"
    edited.write_text(json.dumps(data))
    code, out = cli_json_or_code("dispatch", str(edited), "--endpoint", NOWHERE, "--db", str(checked.db))
    assert code == 2
    assert out["reason"] == "schedule_changed" and checked.verdict_run in out["runs"] and out["sent"] == []
    assert "changed since verdict" in out["message"] and checked.verdict_run in out["message"]
    refusal = dispatch_runs(checked.db)[0]
    assert refusal["status"] == "refused" and refusal["params"]["reason"] == "schedule_changed"


def cli_json_or_code(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, [*args, "--json"])
    text = result.stdout
    return result.exit_code, json.loads(text[text.index("{") : text.rindex("}") + 1])


def test_a_verdict_on_another_order_book_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    run = plan(db, tmp_path / "plan.json")
    later = BOOK.replace(",11,1", ",500,1")  # same orders, later due dates: another book
    (tmp_path / "later.csv").write_text(later)
    sim = cli_json(
        "simulate", PLANT, "--schedule", str(tmp_path / "plan.json"), "--orders", str(tmp_path / "later.csv"),
        "--replications", "2", "--db", str(db),
    )  # fmt: skip
    assert sim["verdict"]["accepted"]
    code, out = cli_json_or_code("dispatch", run, "--endpoint", NOWHERE, "--db", str(db))
    assert code == 2 and out["reason"] == "other_orders" and out["runs"] == [sim["verdict"]["run_id"]]
    assert "another order book" in out["message"]


def test_a_verdict_on_another_plant_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    run = plan(db, tmp_path / "plan.json")
    other = tmp_path / "other"
    shutil.copytree(sample_path(PLANT).parent, other)  # type: ignore[union-attr]
    text = (other / "plant.yaml").read_text().replace("time: 3}", "time: 2}")  # a faster m0
    (other / "plant.yaml").write_text(text)
    sim = cli_json(
        "simulate", str(other / "plant.yaml"), "--schedule", str(tmp_path / "plan.json"),
        "--replications", "2", "--db", str(db),
    )  # fmt: skip
    assert sim["verdict"]["accepted"]
    code, out = cli_json_or_code("dispatch", run, "--endpoint", NOWHERE, "--db", str(db))
    assert code == 2 and out["reason"] == "other_plant" and out["runs"] == [sim["verdict"]["run_id"]]
    assert "another plant" in out["message"]


RUSH = """
name: rush-j2
description: one more job2, due in a minute
base: {plant: jobshop3x3}
judge:
  replications: 3
  seed: 0
  planner: {mode: solve, time_limit: 5}
  policy: {min_on_time: 0.5}
changes:
  - {type: add_order, id: R9, product: job2, quantity: 1, due: "2026-11-30T00:01:00+00:00"}
"""


def test_a_whatif_plan_is_dispatched_after_its_verdict(tmp_path: Path, floor: Floor) -> None:
    db = tmp_path / "h.duckdb"
    (tmp_path / "rush.yaml").write_text(RUSH)
    report = cli_json("whatif", str(tmp_path / "rush.yaml"), "--db", str(db))
    runs = report["verdict_runs"]
    variant = next(k for k in runs if k != "baseline")
    assert report["variants"][0]["check"]["accepted"]
    out = cli_json("dispatch", runs[variant], "--endpoint", floor.endpoint, "--db", str(db))
    floor.run()
    assert out["dispatched"] and out["verdict_run"] == runs[variant]
    assert {"R9/0", "R9/1"} <= set(out["sent"]) and set(floor.jobs()) == set(out["sent"])


@pytest.mark.browser
def test_the_dispatch_page_shows_the_verdict_found_by_hashes(checked: Checked) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (make browser)")
    from playwright.sync_api import sync_playwright

    store = HistoryStore(checked.db, read_only=True)
    web = DashboardThread(HistoryServices(store), "127.0.0.1", free_port())
    web.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(web.url + "dispatch")
            page.locator("#dispatch-verdict-head").wait_for(timeout=30_000)
            table = page.locator("#dispatch-table").inner_text()
            head = page.locator("#dispatch-verdict-head").inner_text()
            browser.close()
    finally:
        web.stop()
        store.close()
    assert checked.replan_run in table and "accepted" in table, table
    assert head.startswith("Accepted") and "not been checked" not in head, head
