"""plantwin.recording: where the history file is, opening it, and the typed record helpers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from history_data import events, sim_frames

from plantwin import recording
from twin.errors import HistoryError
from twin.history import HistoryStore
from twin.stats import Estimate


def test_history_path_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("PLANTWIN_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert recording.history_path(None) == tmp_path / "xdg" / "plantwin" / "history.duckdb"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert recording.history_path(None) == Path.home() / ".local/share/plantwin/history.duckdb"
    monkeypatch.setenv("PLANTWIN_DB", str(tmp_path / "env.duckdb"))
    assert recording.history_path(None) == tmp_path / "env.duckdb"
    assert recording.history_path(str(tmp_path / "flag.duckdb")) == tmp_path / "flag.duckdb"


def test_no_history_records_nothing(tmp_path, tiny_plant, tiny_orders, tiny_schedule):
    db = tmp_path / "h.duckdb"
    with recording.open_history(str(db), enabled=False) as store:
        assert store is None
        run = recording.record_plan(
            store, command="plan", plant=tiny_plant, orders=tiny_orders, schedule=tiny_schedule
        )
        assert run is None
        assert (
            recording.record_actuals(store, events=events([(1, "A", "produced", "O1", "cut", 1, None)])) == 0
        )
    assert not db.exists()


def test_record_helpers_write_whole_runs(tmp_path, tiny_plant, tiny_orders, tiny_schedule):
    db = str(tmp_path / "h.duckdb")
    ops, orders, states = sim_frames()
    with recording.open_history(db) as store:
        plan = recording.record_plan(
            store, command="plan", plant=tiny_plant, orders=tiny_orders, schedule=tiny_schedule
        )
        sim = recording.record_simulation(
            store, command="simulate", plant=tiny_plant, orders=tiny_orders, operations=ops,
            order_results=orders, states=states, estimates={"throughput": Estimate(1, 0.5, 1.5, 3)},
            parent=plan,
        )  # fmt: skip
        scenario = recording.record_scenario(
            store, command="whatif", plant=tiny_plant, parent=plan, kpis={"late": 1},
            extra_files={"scenario": "rush.yaml"}, estimates={"tardiness": 3.0},
        )  # fmt: skip
        n = recording.record_actuals(store, events=events([(1, "A", "produced", "O1", "cut", 1, None)]))
        # a failing helper leaves nothing behind
        with pytest.raises(HistoryError, match="missing"):
            recording.record_simulation(
                store, command="simulate", plant=tiny_plant, orders=None,
                operations=ops.drop(columns=["good"]), order_results=orders, states=states,
            )  # fmt: skip
    assert n == 1
    with HistoryStore(db, read_only=True) as store:
        runs = store.list_runs()
        assert sorted(runs["kind"]) == ["plan", "scenario", "simulation"]
        assert store.get_run(plan)["kpis"] == {"makespan": 4000.0}
        assert store.get_run(plan)["started_by"].startswith("plantwin plan (")
        assert store.get_run(sim)["rows"]["sim_operations"] == len(ops)
        info = store.get_run(scenario)
        assert info["files"] == {"scenario": "rush.yaml"} and info["estimates"]["tardiness"]["mean"] == 3.0


def test_reader_reports_missing_history(tmp_path):
    with (
        pytest.raises(HistoryError, match="no history yet"),
        recording.open_history_reader(str(tmp_path / "x.duckdb")),
    ):
        pass


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_core_never_imports_the_history_store():
    """The rest of twin stays a functional core: no module outside twin/history imports it."""
    root = Path(__file__).resolve().parents[2] / "twin"
    offenders = {
        str(p.relative_to(root)): sorted(n for n in _imports(p) if n.startswith(("twin.history", "duckdb")))
        for p in root.rglob("*.py")
        if "history" not in p.relative_to(root).parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert "twin.history.store" in _imports(root / "history" / "__init__.py")  # the check sees imports
