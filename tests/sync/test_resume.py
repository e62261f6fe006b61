"""`plantwin sync` goes on from the history: kill -9 of sync and a restart, then a clean stop and a
restart after a gap, while the virtual plant (its own process) keeps producing. At the end the
history's parts per station equal what the plant's counters say was made since sync first
watched, the killed session is marked interrupted, the clean ones ok, and stderr has no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
from support import free_port
from typer.testing import CliRunner

from plantwin.cli import app
from twin.history.store import HistoryStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
ROOT = Path(__file__).resolve().parents[2]
HOURS = 4.0  # of orders: 72 s of wall time at SPEED, enough for a slow start of the CLI
SPEED = 200.0
PLANT = """
name: resume
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:test"}
lines:
  - id: L
    stations:
      - id: cut
      - id: weld
products:
  - id: P
    routing:
      - {id: cut, stations: cut, time: {exponential: 20}, yield: 0.9}
      - {id: weld, stations: weld, time: 15, yield: 0.95}
order_stream:
  interarrival: {exponential: 30}
  mix: {P: 1}
  quantity: 1
  due_after: 1h
"""
SERVER = """
import asyncio, sys
from pathlib import Path
from sync.virtual.server import VirtualPlant
from twin.loader import load_plant
from twin.orders import generate_orders

async def main(plant_file, port, state, speed, hours, shelf):
    plant, _ = load_plant(Path(plant_file))
    feed = generate_orders(plant.order_stream, hours * 3600.0, seed=3)
    vp = VirtualPlant(plant, port=port, speed=speed, state_path=Path(state), feed=feed, shelf=Path(shelf))
    async with vp:
        await asyncio.Event().wait()

a = sys.argv
asyncio.run(main(a[1], int(a[2]), a[3], float(a[4]), float(a[5]), a[6]))
"""
SYNC = "import sys; from plantwin.cli import main; sys.argv[0] = 'plantwin'; main()"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _sync(plant: Path, port: int, db: Path, err: IO[bytes]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", SYNC, "sync", str(plant), "--endpoint", f"opc.tcp://127.0.0.1:{port}"]
    cmd += ["--db", str(db), "--status-every", "0.5"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=_env(), cwd=ROOT)


def _counts(state: Path) -> dict[str, tuple[int, int]]:
    data = json.loads(state.read_text())
    return {k: (int(v[0]), int(v[1])) for k, v in data["counts"].items()}


def _wait_status(
    log: Path, proc: subprocess.Popen[bytes], n: int, parts: bool, timeout: float = 90.0
) -> None:
    """Until the session's stderr holds `n` status lines saying 'connected' (with parts counted)."""
    end = time.monotonic() + timeout
    while True:
        lines = [
            x
            for x in log.read_text().splitlines()
            if x.startswith("connected") and not (parts and " produced 0 " in x)
        ]
        if len(lines) >= n:
            return
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < end, f"no status line with parts: {log.read_text()}"
        time.sleep(0.1)


def test_kill_and_clean_restarts_of_sync_lose_no_part_and_count_none_twice(
    tmp_path: Path, shelf: Path
) -> None:
    plant = tmp_path / "plant.yaml"
    plant.write_text(PLANT)
    db, state, port = tmp_path / "h.duckdb", tmp_path / "plant-state.json", free_port()
    vp_log = (tmp_path / "vp.log").open("ab")
    cmd = [
        sys.executable,
        "-c",
        SERVER,
        str(plant),
        str(port),
        str(state),
        str(SPEED),
        str(HOURS),
        str(shelf),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=vp_log, env=_env())
    logs = [tmp_path / f"sync{i}.err" for i in range(3)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        end = time.monotonic() + 60
        while not state.is_file():  # the plant saves its counters once it runs
            assert server.poll() is None and time.monotonic() < end, (tmp_path / "vp.log").read_text()
            time.sleep(0.1)
        with logs[0].open("wb") as err:
            procs.append(_sync(plant, port, db, err))
        _wait_status(logs[0], procs[0], 3, parts=True)
        procs[0].send_signal(signal.SIGKILL)  # no clean stop: buffered rows are lost
        procs[0].wait(10)
        time.sleep(1.0)  # the plant goes on making parts
        with logs[1].open("wb") as err:
            procs.append(_sync(plant, port, db, err))
        _wait_status(logs[1], procs[1], 3, parts=False)
        # readers while sync holds the file: the snapshot it publishes
        listed = CliRunner().invoke(app, ["history", "list", "--db", str(db), "--kind", "sync", "--json"])
        assert listed.exit_code == 0, listed.output
        statuses = sorted(r["status"] for r in json.loads(listed.stdout)["runs"])
        assert statuses == ["interrupted", "running"]
        out = tmp_path / "actuals.parquet"
        exported = CliRunner().invoke(app, ["history", "export-actuals", "--db", str(db), "--to", str(out)])
        assert exported.exit_code == 0 and out.is_file(), exported.output
        procs[1].send_signal(signal.SIGTERM)  # a clean stop
        assert procs[1].wait(20) == 0, logs[1].read_text()
        time.sleep(1.5)  # a gap
        with logs[2].open("wb") as err:
            procs.append(_sync(plant, port, db, err))
        _wait_status(logs[2], procs[2], 1, parts=False)
        end = time.monotonic() + 150
        while json.loads(state.read_text())["time"] < HOURS * 3600 + 3600:  # the feed worked off
            assert server.poll() is None and time.monotonic() < end, "the plant did not finish its feed"
            time.sleep(0.2)
        time.sleep(2.0)  # the last values reach sync and its history
        procs[2].send_signal(signal.SIGTERM)
        assert procs[2].wait(20) == 0, logs[2].read_text()
    finally:
        for proc in [*procs, server]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
        vp_log.close()
    made = _counts(state)
    with HistoryStore(db, read_only=True) as store:
        events = store.sql(
            "SELECT station, kind, sum(quantity) AS n FROM actual_events "
            "WHERE kind IN ('produced', 'scrapped') GROUP BY station, kind"
        )
        first = store.sql(
            "SELECT station, tag, arg_min(value, rowid) AS v FROM actual_values "
            "WHERE tag IN ('good_count', 'reject_count') AND status = 'good' GROUP BY station, tag"
        )
        runs = store.list_runs(kind="sync")
    got = {(r.station, r.kind): int(r.n) for r in events.itertuples()}
    base = {(r.station, r.tag): int(r.v) for r in first.itertuples()}
    for station, (good, reject) in made.items():
        assert got.get((station, "produced"), 0) == good - base[(station, "good_count")], station
        assert got.get((station, "scrapped"), 0) == reject - base[(station, "reject_count")], station
    assert made["cut"][0] > base[("cut", "good_count")] + 50  # most parts were made while watched
    assert made["cut"][1] > 0  # scrap happened, and was counted as such
    assert sorted(runs.status) == ["interrupted", "ok", "ok"]
    for log in logs:
        assert "Traceback" not in log.read_text()
    assert "marked interrupted" in logs[1].read_text()
