"""`plantwin history list|show|export|compare` through the real typer app."""

from __future__ import annotations

import json

import pandas as pd
from history_data import sim_frames
from typer.testing import CliRunner

from plantwin.cli import app
from twin.history import HistoryStore

runner = CliRunner()


def _db(tmp_path, tiny_plant, tiny_orders, tiny_schedule) -> tuple[str, str, str]:
    db = str(tmp_path / "h.duckdb")
    with HistoryStore(db) as store:
        plan = store.record_run(
            "plan", started_by="me", plant=tiny_plant, orders=tiny_orders, kpis={"makespan": 4000}
        )
        store.add_schedule(plan, tiny_schedule)
        sim = store.record_run(
            "simulation", started_by="me", plant=tiny_plant, parent=plan, kpis={"makespan": 4100}
        )
        ops, orders, states = sim_frames()
        store.add_simulation(sim, operations=ops, orders=orders, states=states)
    return db, plan, sim


def test_list_and_show_json(tmp_path, tiny_plant, tiny_orders, tiny_schedule):
    db, plan, sim = _db(tmp_path, tiny_plant, tiny_orders, tiny_schedule)
    res = runner.invoke(app, ["history", "list", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert [r["id"] for r in payload["runs"]] == [sim, plan]
    assert payload["runs"][1]["kpis"] == {"makespan": 4000}
    res = runner.invoke(app, ["history", "list", "--db", db])  # a parent on one row, none on the other
    assert res.exit_code == 0, res.output
    assert plan in res.stdout and sim in res.stdout
    res = runner.invoke(app, ["history", "list", "--db", db, "--kind", "plan"])
    assert res.exit_code == 0 and plan in res.stdout and sim not in res.stdout
    res = runner.invoke(app, ["history", "show", plan[:14], "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)["run"]
    assert run["id"] == plan and run["children"] == [sim] and run["rows"] == {"schedule_operations": 4}
    res = runner.invoke(app, ["history", "show", sim, "--db", db])
    assert res.exit_code == 0 and f"parent      {plan}" in res.stdout


def test_export_and_compare(tmp_path, tiny_plant, tiny_orders, tiny_schedule):
    db, plan, sim = _db(tmp_path, tiny_plant, tiny_orders, tiny_schedule)
    out = tmp_path / "plan.csv"
    res = runner.invoke(app, ["history", "export", plan, "--to", str(out), "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["files"][0] == str(out)
    assert len(pd.read_csv(out)) == 4
    res = runner.invoke(app, ["history", "compare", plan, sim, "--db", db, "--json"])
    kpis = {k["kpi"]: k for k in json.loads(res.stdout)["kpis"]}
    assert kpis["makespan"]["difference"] == 100


def test_user_errors_exit_2(tmp_path, tiny_plant, tiny_orders, tiny_schedule):
    db, plan, _ = _db(tmp_path, tiny_plant, tiny_orders, tiny_schedule)
    for args in (
        ["history", "show", "nope", "--db", db],
        ["history", "list", "--db", str(tmp_path / "missing.duckdb")],
        ["history", "export", plan, "--to", str(tmp_path / "x.xlsx"), "--db", db],
        ["history", "list", "--kind", "guess", "--db", db],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert ("plantwin: error:" in res.stderr and res.exception is None) or isinstance(
            res.exception, SystemExit
        )


def test_export_actuals_window(tmp_path, tiny_plant):
    from history_data import events

    db = str(tmp_path / "h.duckdb")
    with HistoryStore(db) as store:
        store.record_run("sync", started_by="me", plant=tiny_plant)
        store.add_actual_events(
            events([(t, "A", "produced", "O1", "cut", 1, None) for t in (10, 3600, 7200)])
        )
    out = tmp_path / "floor.parquet"
    args = ["history", "export-actuals", "--to", str(out), "--start", "2026-11-30T01:00:00+01:00", "--db", db]
    res = runner.invoke(app, [*args, "--end", "7200", "--json"])
    assert res.exit_code == 0, res.output
    assert pd.read_parquet(out)["time"].tolist() == [3600.0]
    res = runner.invoke(app, [*args, "--end", "tomorrow"])
    assert res.exit_code == 2 and "--end" in res.stderr
