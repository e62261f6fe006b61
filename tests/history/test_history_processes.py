"""Real processes: DuckDB's one-writer rule gives a clear error (never a traceback), and a
writer killed with SIGKILL mid-write leaves a file that opens with every committed run whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from twin.errors import HistoryLockedError
from twin.history import HistoryStore

HOLDER = """
import sys
from twin.history import HistoryStore
store = HistoryStore(sys.argv[1])
store.record_run("sync", started_by="holder")
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "publish":
        store.publish_snapshot()
        print("published", flush=True)
store.close()
"""

WRITER = """
import sys
import numpy as np
import pandas as pd
from twin.history import HistoryStore

N = int(sys.argv[2])
rng = np.random.default_rng(0)
ops = pd.DataFrame({
    "replication": rng.integers(0, 30, N), "order_id": "O1", "op_index": 0, "operation": "cut",
    "station": "A", "machine": 0, "start": rng.uniform(0, 1e5, N), "end": rng.uniform(0, 1e5, N),
    "setup": 0.0, "quantity": 1, "good": 1, "scrap": 0,
})
ops["end"] = ops["start"] + 10.0
orders = pd.DataFrame({"replication": [0], "order_id": ["O1"], "product": ["P"], "quantity": [1],
    "release": [0.0], "due": [1.0], "completion": [2.0], "lateness": [1.0], "tardiness": [1.0],
    "on_time": [False]})
states = pd.DataFrame({"replication": [0], "station": ["A"], "machine": [0], "state": ["Idle"],
    "start": [0.0], "end": [1.0]})
store = HistoryStore(sys.argv[1])
for i in range(1000):
    print(f"begin {i}", flush=True)
    with store.transaction():
        run = store.record_run("simulation", started_by="writer", params={"i": i})
        store.add_simulation(run, operations=ops, orders=orders, states=states)
    print(f"committed {run}", flush=True)
"""


def _script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _wait_for(proc: subprocess.Popen, word: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"child ended before {word!r}: {proc.stderr.read() if proc.stderr else ''}")
        if line.startswith(word):
            return line.strip()
    raise AssertionError(f"no {word!r} within {timeout} s")


def test_a_held_file_gives_a_clear_error_and_the_snapshot_is_readable(tmp_path):
    db = tmp_path / "h.duckdb"
    with subprocess.Popen(
        [sys.executable, str(_script(tmp_path, "holder.py", HOLDER)), str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as holder:  # fmt: skip
        _hold_and_check(holder, db)
    with HistoryStore(db, read_only=True) as store:  # released on exit
        assert len(store.list_runs()) == 1


def _hold_and_check(holder: subprocess.Popen, db: Path) -> None:
    try:
        _wait_for(holder, "ready")
        for read_only in (False, True):
            with pytest.raises(HistoryLockedError, match=f"held for writing by process {holder.pid}"):
                HistoryStore(db, read_only=read_only)
        cli = [sys.executable, "-m", "plantwin.cli", "history", "list", "--db", str(db)]
        res = subprocess.run(cli, capture_output=True, text=True, timeout=120)
        assert res.returncode == 2, res.stderr
        assert res.stderr.startswith("plantwin: error:") and "held for writing" in res.stderr
        assert "Traceback" not in res.stderr
        # the service publishes a snapshot: readers use it, and say so
        assert holder.stdin is not None
        holder.stdin.write("publish\n")
        holder.stdin.flush()
        _wait_for(holder, "published")
        res = subprocess.run([*cli, "--json"], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert '"started_by": "holder"' in res.stdout and "snapshot" in res.stderr
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(timeout=60)


def test_kill_9_mid_write_keeps_committed_runs(tmp_path):
    db = tmp_path / "h.duckdb"
    rows = 200_000
    committed: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(_script(tmp_path, "writer.py", WRITER)), str(db), str(rows)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as writer:  # fmt: skip
        try:
            while len(committed) < 3:
                committed.append(_wait_for(writer, "committed").split()[1])
            _wait_for(writer, "begin")
            time.sleep(0.05)  # inside the fourth run's bulk insert
            os.kill(writer.pid, signal.SIGKILL)
        finally:
            writer.kill()
            writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    with HistoryStore(db) as store:
        runs = store.list_runs(limit=1000)
        assert set(committed) <= set(runs["id"])
        assert len(runs) <= len(committed) + 1  # the run in flight: whole or absent
        counts = store.sql("SELECT run_id, count(*) AS n FROM sim_operations GROUP BY run_id")
        assert sorted(counts["run_id"]) == sorted(runs["id"])
        assert (counts["n"] == rows).all()
        store.record_run("demo", started_by="after the crash")  # and it takes writes again
