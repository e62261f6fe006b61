"""`plantwin plan` and `plantwin replan` through the real typer app (JSON contract, files, exit codes)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from plantwin.cli import app

runner = CliRunner()
FT06 = str(Path(__file__).parents[2] / "benchmarks" / "instances" / "ft06")


def test_plan_jssp_json_contract() -> None:
    res = runner.invoke(app, ["plan", "--jssp", FT06, "--time-limit", "20", "--workers", "2", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["makespan"] == 55 and payload["bound"] == 55
    assert payload["status"] == "OPTIMAL"
    assert 0 <= payload["seconds"] < 20


def test_plan_writes_json_and_csv_beside_it(tmp_path) -> None:
    out = tmp_path / "plans" / "s.json"
    res = runner.invoke(app, ["plan", "jobshop3x3", "--time-limit", "5", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["makespan"] == 11 and payload["late_orders"] == [] and payload["gap"] == 0.0
    assert payload["files"] == [str(out), str(out.with_suffix(".csv"))]
    saved = json.loads(out.read_text())
    assert len(saved["operations"]) == 8
    rows = list(csv.DictReader(out.with_suffix(".csv").read_text().splitlines()))
    assert {r["order_id"] for r in rows} == {"J0", "J1", "J2"}
    # human summary: makespan, late orders and gap on stdout
    res = runner.invoke(app, ["plan", "jobshop3x3", "--time-limit", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "makespan" in res.stdout and "late orders" in res.stdout and "gap" in res.stdout


def test_user_mistakes_exit_2_with_file_and_line(tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("2 2\n0 1 1 2\n0 1 5\n")
    res = runner.invoke(app, ["plan", "--jssp", str(bad), "--json"])
    assert res.exit_code == 2
    assert f"{bad}:3" in res.stderr
    res = runner.invoke(app, ["plan", "jobshop3x3", "--objective", "speed"])
    assert res.exit_code == 2 and "objective must be one of" in res.stderr
    res = runner.invoke(app, ["plan"])
    assert res.exit_code == 2 and "missing PLANT" in res.stderr


def test_replan_from_files(tmp_path) -> None:
    sched = tmp_path / "s.json"
    res = runner.invoke(app, ["plan", "jobshop3x3", "--time-limit", "5", "--out", str(sched), "--json"])
    assert res.exit_code == 0, res.output
    rush = tmp_path / "rush.csv"
    rush.write_text("id,product,quantity,release,due,weight\nR1,job2,1,3,30,1\n")
    live = tmp_path / "live.json"
    plan = json.loads(sched.read_text())["operations"]
    first = min(plan, key=lambda o: (o["end"], o["order_id"]))
    live.write_text(json.dumps({"time": 3, "completed": [[first["order_id"], first["op_index"]]]}))
    out = tmp_path / "r.json"
    res = runner.invoke(
        app,
        [
            "replan", "jobshop3x3", "--schedule", str(sched), "--rush", str(rush), "--live", str(live),
            "--frozen-horizon", "2", "--time-limit", "5", "--out", str(out), "--json",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["added"] == [["R1", 0], ["R1", 1]]
    assert payload["dropped"] == 1
    assert "R1" not in payload["late_orders"]
    assert isinstance(payload["moved"], list)
    assert out.exists() and out.with_suffix(".csv").exists()
    live.write_text('{"time": 3, "completed": [["J0"]]}')
    res = runner.invoke(
        app, ["replan", "jobshop3x3", "--schedule", str(sched), "--rush", str(rush), "--live", str(live)]
    )
    assert res.exit_code == 2 and "completed[0]" in res.stderr
