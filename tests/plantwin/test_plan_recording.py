"""`plantwin plan` records the plan and its schedule in the history (and not with --no-history)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from plantwin.cli import app
from twin.history import HistoryStore


def test_plan_is_recorded_with_its_schedule(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    out = tmp_path / "s.json"
    res = CliRunner().invoke(
        app, ["plan", "jobshop3x3", "--json", "--time-limit", "5", "--out", str(out), "--db", str(db)]
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    with HistoryStore(db, read_only=True) as store:
        runs = store.list_runs(kind="plan")
        assert list(runs["id"]) == [payload["run_id"]]
        schedule = store.get_schedule(payload["run_id"])
    assert schedule.makespan == 11
    assert len(schedule.operations) == 8


def test_no_history_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    res = CliRunner().invoke(
        app, ["plan", "jobshop3x3", "--json", "--time-limit", "5", "--out", str(out), "--no-history"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["run_id"] is None
    assert not Path(os.environ["PLANTWIN_DB"]).exists()
