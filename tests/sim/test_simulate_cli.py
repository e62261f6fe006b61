"""`plantwin simulate`: the stable command-line contract."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from plantwin.cli import app
from twin.schedule import Schedule, ScheduledOperation

runner = CliRunner()


def test_simulate_json_has_kpis_with_cis_and_values() -> None:
    res = runner.invoke(
        app, ["simulate", "tandem3", "--until", "6h", "--replications", "2", "--seed", "3", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["replications"] == 2 and out["seed"] == 3 and out["until"] == 6 * 3600
    k = out["kpis"]
    for name in ("throughput_per_hour", "lead_time_mean", "wip_mean", "on_time_rate", "oee"):
        assert set(k[name]) == {"mean", "low", "high", "n", "values"} and len(k[name]["values"]) == 2
    for s in ("s1", "s2", "s3"):
        for factor in ("oee", "availability", "performance", "quality"):
            assert f"{factor}.{s}" in k


def test_simulate_follows_a_schedule_file(tmp_path, jobshop3x3) -> None:
    plan = Schedule((ScheduledOperation("J2", 0, "o0", "m1", 0, 0, 4),))
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    res = runner.invoke(
        app, ["simulate", "jobshop3x3", "--schedule", str(path), "--replications", "1", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["basis"] == "schedule"


def test_simulate_table_and_user_errors() -> None:
    res = runner.invoke(app, ["simulate", "jobshop3x3", "--replications", "1", "--rule", "edd"])
    assert res.exit_code == 0, res.output
    assert "mean time in system" in res.stdout and "Per station" in res.stdout
    assert runner.invoke(app, ["simulate", "single"]).exit_code == 2  # a stream needs --until
    assert runner.invoke(app, ["simulate", "demo", "--rule", "LIFO"]).exit_code == 2
    assert runner.invoke(app, ["simulate", "demo", "--rule", "EDD", "--schedule", "x.json"]).exit_code == 2
    assert runner.invoke(app, ["simulate", "demo", "--until", "soon"]).exit_code == 2
