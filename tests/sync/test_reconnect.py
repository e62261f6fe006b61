"""`plantwin sync` against a virtual plant (its own process) restarted ten times in a row, killed
and stopped in turns: every restart is followed by a reconnection, stderr has one line per state
change and no traceback; a session that ends while the server is down exits 1 and says since when.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import free_port

from twin.history.store import HistoryStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]
RESTARTS = 10
SERVER = """
import asyncio, sys
from pathlib import Path
from sync.virtual.server import VirtualPlant
from twin.loader import load_plant
from twin.orders import generate_orders
from twin.samples import sample_path

async def main(port, state, shelf):
    plant, _ = load_plant(sample_path("single"))
    feed = generate_orders(plant.order_stream, 100 * 3600.0, seed=1)
    vp = VirtualPlant(plant, port=port, speed=60, state_path=Path(state), feed=feed, shelf=Path(shelf))
    async with vp:
        await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
"""
SYNC = "import sys; from plantwin.cli import main; sys.argv[0] = 'plantwin'; main()"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _until(what: str, cond: object, timeout: float, log: Path) -> None:
    end = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, f"{what}; sync's stderr:\n{log.read_text()}"
        time.sleep(0.1)


def test_ten_server_restarts_all_reconnect_without_tracebacks(tmp_path: Path, shelf: Path) -> None:
    port, state, db = free_port(), tmp_path / "state.json", tmp_path / "h.duckdb"
    vp_log = (tmp_path / "vp.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-c", SERVER, str(port), str(state), str(shelf)]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=vp_log, env=_env())

    server = start()
    err_path = tmp_path / "sync.err"
    err = err_path.open("wb")
    cmd = [sys.executable, "-c", SYNC, "sync", "single", "--endpoint", f"opc.tcp://127.0.0.1:{port}"]
    cmd += ["--db", str(db), "--status-every", "1"]
    sync = None
    try:
        _until("the plant never started", state.is_file, 60, err_path)
        sync = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=_env(), cwd=ROOT)

        def text() -> str:
            return err_path.read_text()

        _until("sync never connected", lambda: "connected  values" in text(), 90, err_path)
        for i in range(RESTARTS):
            server.send_signal(signal.SIGKILL if i % 2 else signal.SIGTERM)
            server.wait(20)
            _until(f"restart {i}: loss not noticed", lambda i=i: text().count("lost") > i, 20, err_path)
            time.sleep(0.5)
            server = start()
            _until(
                f"restart {i}: no reconnection", lambda i=i: text().count("reconnected to") > i, 90, err_path
            )
        server.send_signal(signal.SIGKILL)  # the session ends while the server is down
        server.wait(20)
        _until("last loss not noticed", lambda: text().count("lost") > RESTARTS, 20, err_path)
        time.sleep(1.0)
        sync.send_signal(signal.SIGTERM)
        code = sync.wait(30)
    finally:
        for proc in (sync, server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
        err.close()
        vp_log.close()
    out = err_path.read_text()
    assert "Traceback" not in out and "asyncua" not in out, out
    assert out.count("reconnected to") == RESTARTS
    lines = [x for x in out.splitlines() if not x.startswith(("connected", "DISCONNECTED"))]
    # one line per state change: lost, reconnected, and at most one line per distinct failure
    assert len(lines) <= 4 * RESTARTS + 4, out
    assert code == 1
    assert re.search(r"ended disconnected from opc\.tcp://127\.0\.0\.1:\d+, since 20\d\d-", out), out
    with HistoryStore(db, read_only=True) as store:
        runs = store.list_runs(kind="sync")
    assert list(runs.status) == ["disconnected"]
