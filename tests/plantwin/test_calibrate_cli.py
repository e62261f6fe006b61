"""`plantwin calibrate` and `plantwin fidelity` at the command line: the --json contract, the
'kept, too few samples' rule, and clear errors (exit 2, no traceback) for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plantwin.cli import app
from sync.virtual.offline import record_floor
from tests.plantwin.fidelity_support import cli_json, parameters, write_case
from twin.history.store import HistoryStore
from twin.loader import load_orders, load_plant

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def one_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A day of floor history of the cellworks plant run on its own file (the model is right)."""
    root = tmp_path_factory.mktemp("oneday")
    plant_path, _ = write_case(root / "case", 1)
    plant, _ = load_plant(plant_path)
    db = str(root / "history.duckdb")
    with HistoryStore(db) as store:
        store.record_run("sync", started_by="test", plant=plant)
        record_floor(plant, load_orders(plant_path.parent / "orders.csv", plant), 86400.0, store, seed=9)
    return plant_path, db


def test_json_contract_and_kept_values(one_day: tuple[Path, str], tmp_path: Path) -> None:
    plant_path, db = one_day
    out = tmp_path / "cal.yaml"
    report = cli_json("calibrate", str(plant_path), "--db", db, "--out", str(out), "--until", "86400")
    assert {"plant", "window", "runs", "changed", "parameters"} <= set(report)
    params = parameters(report)
    for p in report["parameters"]:
        assert {"path", "old", "new", "interval", "samples"} <= set(p)
        assert len(p["interval"]) == 2
    # one day: too few failures of either station for MTBF, the old value kept and said so
    mtbf = params["stations.mill.failures.mtbf"]
    assert not mtbf["changed"] and mtbf["new"] is None and mtbf["note"].startswith("kept: ")
    assert "need 5" in mtbf["note"]
    # the floor is the model: the processing times it saw enough of agree with the file
    times = [p for path, p in params.items() if path.endswith(".time") and p["new"] is not None]
    assert len(times) >= 4
    assert sum(p["changed"] for p in times) <= 1
    assert report["window"]["end"] <= 86400.0
    # the file is written and loads where it is (its order book found from there)
    plant, _ = load_plant(out)
    assert plant.name == "cellworks"


def _fails(args: list[str], text: str) -> None:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert text in result.output
    assert "Traceback" not in result.output


def test_user_mistakes(one_day: tuple[Path, str], tmp_path: Path) -> None:
    plant_path, db = one_day
    out = str(tmp_path / "x.yaml")
    _fails(
        ["calibrate", str(plant_path), "--db", str(tmp_path / "none.duckdb"), "--out", out], "no history yet"
    )
    _fails(
        ["calibrate", str(plant_path), "--db", db, "--out", out, "--since", "yesterday"],
        "--since: expected an ISO datetime or plant seconds, got 'yesterday'",
    )
    _fails(
        ["calibrate", str(plant_path), "--db", db, "--out", out, "--since", "500", "--until", "100"],
        "is not after --since",
    )
    _fails(
        ["calibrate", str(plant_path), "--db", db, "--out", out, "--since", "9e9"],
        "no actuals from the floor",
    )
    _fails(["calibrate", str(plant_path), "--db", db, "--out", str(plant_path)], "must not be the plant file")
    _fails(["fidelity", "--db", db], "no prediction")
    _fails(["fidelity", "--db", db, "--plan", "nosuchrun"], "no run 'nosuchrun'")


def test_fidelity_json_lists_scores_and_keeps_them(one_day: tuple[Path, str], tmp_path: Path) -> None:
    plant_path, db_src = one_day
    db = tmp_path / "h.duckdb"
    db.write_bytes(Path(db_src).read_bytes())
    sim = cli_json("simulate", str(plant_path), "--replications", "8", "--seed", "3", "--db", str(db))
    got = cli_json("fidelity", "--db", str(db), "--plan", sim["run_id"])
    assert got["stored"] is True and len(got["scores"]) == 1
    s = got["scores"][0]
    assert s["simulation"] == sim["run_id"]
    assert {"coverage", "completion", "brier", "window"} <= set(s)
    assert 0.0 <= s["coverage"]["value"] <= 1.0 and s["coverage"]["nominal"] == 0.8
    with HistoryStore(db, read_only=True) as store:
        kept = store.sql("SELECT id, parent, kpis FROM runs WHERE kind = 'fidelity'")
    assert list(kept["parent"]) == [sim["run_id"]] and list(kept["id"]) == [s["run_id"]]
    assert json.loads(kept["kpis"].iloc[0])["coverage"] == pytest.approx(s["coverage"]["value"])


def test_the_service_hook_scores_when_due_and_alerts_below_policy(
    one_day: tuple[Path, str], tmp_path: Path
) -> None:
    from plantwin.scoring import FidelityWatch

    plant_path, db_src = one_day
    db = tmp_path / "h.duckdb"
    db.write_bytes(Path(db_src).read_bytes())
    cli_json("simulate", str(plant_path), "--replications", "8", "--seed", "3", "--db", str(db))
    with HistoryStore(db) as store:
        strict = FidelityWatch(store, minimum=1.01)  # no prediction can cover 101 %
        text = strict.check()
        assert text is not None and "policy 101%" in text and "plantwin calibrate" in text
        assert strict.check() is None  # the floor has not moved on: not due again
        lenient = FidelityWatch(store, minimum=0.0)
        assert lenient.check() is None
        kept = store.sql("SELECT count(*) AS n FROM runs WHERE kind = 'fidelity'")["n"].iloc[0]
    assert kept == 2
