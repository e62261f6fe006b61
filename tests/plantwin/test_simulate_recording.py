"""`plantwin simulate --schedule` judges the schedule and records simulation and verdict runs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from plantwin.cli import app
from twin.history import HistoryStore


def test_simulate_records_frames_and_the_verdict(tmp_path: Path) -> None:
    db, sched = tmp_path / "h.duckdb", tmp_path / "s.json"
    runner = CliRunner()
    planned = runner.invoke(app, ["plan", "jobshop3x3", "--json", "--out", str(sched), "--db", str(db)])
    assert planned.exit_code == 0, planned.output
    res = runner.invoke(
        app,
        [
            "simulate",
            "jobshop3x3",
            "--schedule",
            str(sched),
            "--replications",
            "3",
            "--json",
            "--db",
            str(db),
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    # deterministic times: the plan is met exactly in every replication, so it is accepted
    assert payload["verdict"]["accepted"] is True
    assert payload["kpis"]["makespan"]["values"] == [11.0, 11.0, 11.0]
    with HistoryStore(db, read_only=True) as store:
        kinds = dict(zip(store.list_runs()["id"], store.list_runs()["kind"], strict=True))
        assert kinds[payload["run_id"]] == "simulation"
        verdict_run = store.get_run(payload["verdict"]["run_id"])
        assert verdict_run["parent"] == payload["run_id"]
        n_ops = store.sql("SELECT count(*) FROM sim_operations WHERE run_id = ?", [payload["run_id"]])
    assert int(n_ops.iloc[0, 0]) == 3 * 8
