"""Every process accounted for: pool workers die with a killed `simulate`, and a run that finds
the history held waits for it, or saves beside it, but never loses its result.

Real subprocesses and real DuckDB files; the process table is read from /proc (Linux).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from twin.history import HistoryStore

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

pytestmark = [
    pytest.mark.slow,  # real CLI processes, several seconds each
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc"),
]


def _children(pid: int) -> set[int]:
    """Every descendant of `pid`, from the parent pid in /proc/N/stat."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited process its new parent has not reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_kill_9_of_a_replicating_simulate_leaves_no_worker(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "plantwin.cli", "simulate", "tandem3", "--until", "60d"]
    cmd += ["--replications", "200", "--no-history"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = {p for p in _children(proc.pid) if _running(p)}
        assert len(workers) >= 2, "the pool never started"
        time.sleep(1.0)  # mid-replication
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_running(p) for p in workers):
            time.sleep(0.1)
        assert not [p for p in workers if _running(p)], "pool workers outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_of_a_replicating_simulate_leaves_no_worker(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "plantwin.cli", "simulate", "tandem3", "--until", "60d"]
    cmd += ["--replications", "200", "--no-history"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = {p for p in _children(proc.pid) if _running(p)}
        assert len(workers) >= 2, "the pool never started"
        proc.terminate()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_running(p) for p in workers):
            time.sleep(0.1)
        assert not [p for p in workers if _running(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


HOLDER = """
import sys
from twin.history import HistoryStore
store = HistoryStore(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
store.close()
print("released", flush=True)
sys.stdin.readline()
"""


def _holder(tmp_path: Path, db: Path) -> subprocess.Popen[str]:
    script = tmp_path / "holder.py"
    script.write_text(textwrap.dedent(HOLDER))
    holder = subprocess.Popen(
        [sys.executable, str(script), str(db)],
        env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    return holder


def _simulate(db: Path, seed: int, wait: float) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "plantwin.cli", "simulate", "jobshop3x3", "--replications", "1"]
    cmd += ["--seed", str(seed), "--db", str(db), "--json"]
    env = {**ENV, "PLANTWIN_LOCK_WAIT": str(wait)}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_line(proc: subprocess.Popen[str], word: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"ended before {word!r}")
        if word in line:
            return
    raise AssertionError(f"no {word!r}")


def test_two_writers_on_a_held_history_both_keep_their_results(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    HistoryStore(db).close()
    holder = _holder(tmp_path, db)
    runs = [_simulate(db, seed, wait=120) for seed in (1, 2)]
    try:
        for run in runs:  # both finished simulating and now wait for the file
            _wait_line(run, "waiting up to 120 s")
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.flush()
        outs = [run.communicate(timeout=120) for run in runs]
    finally:
        holder.kill()
        holder.communicate()
    ids = []
    for run, (out, err) in zip(runs, outs, strict=True):
        assert run.returncode == 0, err
        assert "Traceback" not in err
        ids.append(json.loads(out)["run_id"])
    with HistoryStore(db, read_only=True) as store:
        recorded = set(store.list_runs(kind="simulation")["id"])
    assert set(ids) <= recorded and len(set(ids)) == 2


def test_a_run_that_cannot_get_the_lock_saves_beside_the_history(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    HistoryStore(db).close()
    holder = _holder(tmp_path, db)
    try:
        run = _simulate(db, 3, wait=1)
        out, err = run.communicate(timeout=120)
    finally:
        holder.kill()
        holder.communicate()
    assert run.returncode == 0, err
    assert "Traceback" not in err
    side = list((tmp_path / "h.duckdb.pending").glob("*.duckdb"))
    assert len(side) == 1 and str(side[0]) in err
    with HistoryStore(side[0], read_only=True) as store:
        assert json.loads(out)["run_id"] in set(store.list_runs(kind="simulation")["id"])
