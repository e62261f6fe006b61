"""`--executor` (local processes or a Dask scheduler) and `--precision` (sequential stopping) on the CLI."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scipy import stats
from typer.testing import CliRunner

from plantwin.cli import app
from plantwin.replications import parse_precision
from tests.support import free_port
from twin.errors import InputError

runner = CliRunner()
SCENARIO = """
name: flow-executor
description: f2 twice as fast
base: {plant: flowline, generate: 30m, until: 30m}
judge: {replications: 3, seed: 2, planner: {mode: rule, rule: FIFO}}
changes: [{type: cycle_time, station: f2, factor: 0.5}]
"""
BASE = ["simulate", "tandem3", "--until", "2h", "--seed", "5", "--no-history", "--json"]


SLACK = 1.02
"""plantwin's t table is conservative (df 21..24 use df 20's quantile, ...): its half-width is at
most this much above the exact one, never below it."""


def _run(*args: str) -> dict:
    res = runner.invoke(app, [*BASE, *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _half_width(values: list[float]) -> float:
    """The 95 % t half-width, from the values with scipy's exact t quantile."""
    n = len(values)
    return stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    """A Dask scheduler and one worker on 127.0.0.1. Client -> scheduler -> worker is TCP, so
    every call is pickled as it would be for another machine; the worker runs in this process
    (threads), which keeps the test small."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
        scheduler_port=0, dashboard_address=None,
    ) as cluster:  # fmt: skip
        yield cluster


def _ran_on(cluster: Any) -> int:
    """How many replications (`run_one` tasks) finished on the cluster."""
    prefix = cluster.scheduler.task_prefixes.get("run_one")
    return 0 if prefix is None else int(prefix.state_counts["memory"])  # states entered, cumulative


@pytest.mark.timeout(120)
def test_simulate_on_a_dask_cluster_equals_the_local_run(dask_cluster: Any) -> None:
    local = _run("--replications", "3", "--workers", "1")
    before = _ran_on(dask_cluster)
    remote = _run("--replications", "3", "--executor", dask_cluster.scheduler_address)
    assert _ran_on(dask_cluster) - before == 3
    assert remote["executor"] == f"dask {dask_cluster.scheduler_address}"
    assert local["executor"] == "in this process"
    assert remote["replication_seeds"] == local["replication_seeds"]
    assert remote["kpis"].keys() == local["kpis"].keys()
    for kpi, est in local["kpis"].items():
        assert remote["kpis"][kpi] == est, kpi  # number for number, NaN (null) included


@pytest.mark.timeout(120)
def test_whatif_variants_replicate_on_the_dask_cluster_with_the_same_numbers(
    tmp_path: Path, dask_cluster: Any
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(SCENARIO)
    out = {}
    before = _ran_on(dask_cluster)
    for where in (["--workers", "1"], ["--executor", dask_cluster.scheduler_address]):
        res = runner.invoke(app, ["whatif", str(path), "--json", "--no-history", *where])
        assert res.exit_code == 0, res.output
        out[where[0]] = json.loads(res.stdout)
    local, remote = out["--workers"], out["--executor"]
    assert _ran_on(dask_cluster) - before == 2 * 3  # baseline and variant, 3 replications each
    assert remote["baseline"]["kpis"] == local["baseline"]["kpis"]
    assert remote["variants"][0]["comparison"] == local["variants"][0]["comparison"]
    diff = next(c for c in remote["variants"][0]["comparison"] if c["kpi"] == "units_good")["difference"]
    assert diff["mean"] > 0  # the variant's numbers are real replications, not the baseline's


@pytest.mark.parametrize(
    "address, words",
    [
        ("nonsense", "expected 'local' or a Dask scheduler address"),
        ("tcp://127.0.0.1", "expected 'local' or a Dask scheduler address"),
        ("tcp://127.0.0.1:70000", "port out of range"),
        (None, "cannot reach the Dask scheduler"),  # a free port: nothing listens there
    ],
)
def test_a_bad_executor_address_exits_2_with_one_clear_line(address: str | None, words: str) -> None:
    address = address or f"tcp://127.0.0.1:{free_port()}"
    res = runner.invoke(app, [*BASE, "--replications", "2", "--executor", address])
    assert res.exit_code == 2
    assert words in res.stderr and "--executor" in res.stderr and address in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_precision_stops_at_the_minimum_when_the_target_is_loose() -> None:
    out = _run("--replications", "3", "--max-replications", "20", "--precision", "throughput_per_hour=1000")
    p = out["precision"]
    assert out["replications"] == p["replications"] == 3 and p["reached"] is True
    values = out["kpis"]["throughput_per_hour"]["values"]
    assert _half_width(values) <= p["half_width"] <= SLACK * _half_width(values) and p["half_width"] <= 1000


def test_precision_stops_early_once_the_half_width_is_reached() -> None:
    target = 2.0
    out = _run(
        "--replications", "4", "--max-replications", "40", "--precision", f"throughput_per_hour={target}"
    )  # fmt: skip
    p, n = out["precision"], out["replications"]
    values = out["kpis"]["throughput_per_hour"]["values"]
    assert len(values) == n and p["reached"] is True and 4 < n < 40
    assert _half_width(values) <= p["half_width"] <= SLACK * _half_width(values) <= SLACK * target
    # Replication i is the same in any run, so the first k values are what the run saw at each
    # earlier look (batches 4, then +max(2, n//4)): there the half-width was still above the target.
    looks = [4]
    while looks[-1] < n:
        looks.append(looks[-1] + max(2, looks[-1] // 4))
    assert looks[-1] == n
    for k in looks[:-1]:
        assert SLACK * _half_width(values[:k]) > target, k


def test_precision_stops_at_the_maximum_when_the_target_is_out_of_reach() -> None:
    out = _run("--replications", "2", "--max-replications", "7", "--precision", "makespan=1s")
    p = out["precision"]
    assert out["replications"] == p["replications"] == p["max_replications"] == 7
    assert p["reached"] is False and p["half_width"] > 1 and p["half_width_target"] == 1.0


@pytest.mark.parametrize(
    "text, kpi, half_width",
    [("on_time_rate=2%", "on_time_rate", 0.02), ("makespan=1h30m", "makespan", 5400.0),
     ("throughput_per_hour = 0.5", "throughput_per_hour", 0.5),
     ("lead_time_mean=90", "lead_time_mean", 90.0)],
)  # fmt: skip
def test_precision_takes_numbers_percentages_and_durations(text: str, kpi: str, half_width: float) -> None:
    p = parse_precision(text, 50, 10)
    assert p is not None and (p.kpi, p.half_width, p.max_replications) == (kpi, pytest.approx(half_width), 50)


@pytest.mark.parametrize(
    "text, maximum, minimum, where",
    [("makespan", 50, 10, "--precision"), ("=2%", 50, 10, "--precision"),
     ("makespan=soon", 50, 10, "--precision"), ("makespan=0", 50, 10, "--precision"),
     ("makespan=-1h", 50, 10, "--precision"),
     ("makespan=1h", 5, 10, "--max-replications"), ("makespan=1h", 50, 1, "--replications")],
)  # fmt: skip
def test_bad_precision_names_the_option(text: str, maximum: int, minimum: int, where: str) -> None:
    with pytest.raises(InputError) as err:
        parse_precision(text, maximum, minimum)
    assert where in str(err.value)


def test_precision_on_an_unknown_kpi_exits_2_naming_it() -> None:
    res = runner.invoke(app, [*BASE, "--replications", "2", "--workers", "1", "--precision", "nosuch=1"])
    assert res.exit_code == 2 and "--precision" in res.stderr and "'nosuch'" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_simulate_on_dask_worker_processes_from_a_fresh_command() -> None:
    """Real worker processes and a real `plantwin` process: stdout is the JSON, stderr stays quiet."""
    distributed = pytest.importorskip("distributed")
    local = _run("--replications", "3", "--workers", "1")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, protocol="tcp", host="127.0.0.1",
        scheduler_port=0, dashboard_address=None,
    ) as cluster:  # fmt: skip
        cmd = [sys.executable, "-m", "plantwin.cli", *BASE, "--replications", "3",
               "--executor", cluster.scheduler_address]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
    assert json.loads(done.stdout)["kpis"] == local["kpis"]
