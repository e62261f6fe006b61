"""`plantwin serve` against a virtual plant started by the test as "the real plant": it syncs the
floor into the history, plans on start, dispatches the accepted plan, and re-checks the live
schedule periodically, recording each re-check's verdict and its alerts. The test stops the
service with Ctrl-C (SIGINT) once it has said two re-checks are done (a bounded wait on its
output, not a fixed --duration that a busy machine may fill with fewer re-checks)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from support import free_port

from twin.history import HistoryStore


def wait_listening(port: int, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the virtual plant exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def wait_for_line(lines: list[str], text: str, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} from serve:\n" + "\n".join(lines))


def test_serve_syncs_plans_dispatches_and_rechecks(tmp_path: Path) -> None:
    opc = free_port()
    state = tmp_path / "plant-state.json"  # retentive memory: the plant starts on Monday 05:55
    state.write_text(json.dumps({"time": 6 * 3600.0 - 300.0, "counts": {}}))
    cmd = [sys.executable, "-m", "plantwin.cli", "virtual-plant", "demo", "--port", str(opc)]
    cmd += ["--speed", "600", "--state", str(state), "--duration", "300"]
    plant = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path
    )
    lines: list[str] = []
    try:
        wait_listening(opc, plant)
        cfg = tmp_path / "serve.yaml"
        cfg.write_text(
            f"plant: demo\nopcua:\n  endpoint: opc.tcp://127.0.0.1:{opc}\ndb: serve.duckdb\n"
            "dashboard: {port: 0}\npolicy: {min_on_time: 0.75}\nrecheck_every: 2s\nreplications: 6\n"
            "dispatch_on_start: true\n"
        )
        serve = [sys.executable, "-m", "plantwin.cli", "serve", "--config", str(cfg), "--json"]
        proc = subprocess.Popen(
            [*serve, "--duration", "240s"],  # a bound only: the test stops it
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        reader = threading.Thread(target=lambda: lines.extend(ln.rstrip("\n") for ln in proc.stderr or ()))
        reader.start()
        try:
            wait_for_line(lines, "re-check 2 of", proc, timeout=200)
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(timeout=5)
    finally:
        plant.kill()
        plant.wait()
    stderr = "\n".join(lines)
    assert proc.returncode == 0, stderr
    kpis = json.loads(out)
    assert "dashboard at http://127.0.0.1:" in stderr
    with HistoryStore(tmp_path / "serve.duckdb", read_only=True) as store:
        sync = store.list_runs(kind="sync")
        assert list(sync["status"]) == ["ok"]
        plans = store.list_runs(kind="plan")
        dispatched = store.list_runs(kind="dispatch", status="ok")
        assert len(dispatched) == 1 and dispatched["parent"].iloc[0] in set(plans["id"])
        verdicts = store.list_runs(kind="verdict")
        rechecks = [
            v for v in verdicts["id"] if (store.get_run(v)["params"] or {}).get("purpose") == "recheck"
        ]
        assert len(rechecks) == kpis["rechecks"] >= 2
        for run_id in rechecks:
            run = store.get_run(run_id)
            assert run["parent"] == dispatched["parent"].iloc[0]
            odds = store.get_verdict_orders(run_id)
            below = set(odds.loc[odds["on_time_probability"] < 0.75, "order_id"])
            assert {a["order_id"] for a in run["params"]["alerts"]} <= below
        produced = store.sql(
            "SELECT coalesce(sum(quantity), 0) AS n FROM actual_events WHERE kind = 'produced'"
        )
        assert int(produced["n"].iloc[0]) == kpis["produced"] > 0, stderr
