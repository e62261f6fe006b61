"""The demo's parts without a running plant: option parsing, the live state from job order states,
the dispatch gate of the release window, re-check alerts, the serve config's errors, and the
ISA-95 production performance export on a hand-written history with known totals."""

from __future__ import annotations

import csv
import io
import json
import math
import socket
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from plantwin.cli import app
from plantwin.demo.config import HIGH_SPEED, parse_seconds, parse_speed
from plantwin.demo.continuity import carried_over, order_from_dict, order_to_dict, start_fresh, state_dir
from plantwin.demo.floor import ReleaseWindow
from plantwin.demo.performance import production_performance
from plantwin.service import alerts_of, load_serve_config
from sync.dispatch import DispatchService, Target
from sync.joborders import JobOrderClient
from twin.errors import DispatchRefused, InputError
from twin.history import HistoryStore
from twin.history.verdicts import record_verdict
from twin.orders import Order, book_hash
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict


def test_speed_and_duration_options() -> None:
    assert parse_speed("high") == HIGH_SPEED
    assert parse_speed("120") == 120.0
    assert parse_seconds("60s") == 60.0
    assert parse_seconds("5m") == 300.0
    assert parse_seconds("1.5h") == 5400.0
    assert parse_seconds("45") == 45.0
    for bad in ("fast", "0", "-3"):
        with pytest.raises(InputError, match="--speed"):
            parse_speed(bad)
    for bad in ("soon", "0s", "5 weeks"):
        with pytest.raises(InputError, match="--duration"):
            parse_seconds(bad)


def test_bad_speed_is_a_user_error_not_a_traceback() -> None:
    res = CliRunner().invoke(app, ["demo", "--speed", "warp", "--no-browser"])
    assert res.exit_code == 2
    assert "plantwin: error: --speed" in res.output


def _verdict(
    schedule: Schedule,
    accepted: bool,
    odds: dict[str, float],
    plant: Plant | None = None,
    orders: list[Order] | None = None,
) -> Verdict:
    rows = tuple(OrderVerdict(o, 1000.0, None, p, p - 0.1, p + 0.1, 900.0, 0.0) for o, p in odds.items())
    return Verdict(
        schedule.content_hash(),
        accepted,
        () if accepted else ("too late",),
        rows,
        (),
        8,
        1,
        AcceptancePolicy(0.9),
        plant_hash=plant.content_hash() if plant is not None else "",
        orders_hash=book_hash(orders) if orders is not None else "",
    )


def test_release_window_takes_only_an_accepted_verdict_on_exactly_that_schedule(
    demo_plant: Plant, tmp_path: Path
) -> None:
    orders = [Order("A", "SEALKIT", 5, due=9000.0)]
    ops = (
        ScheduledOperation("A", 0, "kit", "preasm", 0, 100.0, 400.0, quantity=5),
        ScheduledOperation("A", 1, "pack", "pack", 0, 400.0, 500.0, quantity=5),
    )
    schedule = Schedule(ops)
    other = Schedule((ops[0], ScheduledOperation("A", 1, "pack", "pack", 0, 450.0, 550.0, quantity=5)))
    window = ReleaseWindow(demo_plant, JobOrderClient.for_plant(demo_plant), horizon=3600.0)
    with HistoryStore(tmp_path / "history.duckdb") as store:
        service = DispatchService(store, started_by="test")
        target = Target(schedule, demo_plant, tuple(orders), None)
        with pytest.raises(DispatchRefused, match="no verdict") as no:
            service.clear(target)
        assert no.value.reason == "no_verdict"
        record_verdict(
            store, _verdict(other, True, {"A": 1.0}, demo_plant, orders),
            plant=demo_plant, orders=orders, started_by="test", schedule=other,
        )  # fmt: skip
        with pytest.raises(DispatchRefused, match="changed since verdict") as changed:
            service.clear(target)  # accepted, but on the plan before it was edited
        refused = record_verdict(
            store, _verdict(schedule, False, {"A": 0.5}, demo_plant, orders),
            plant=demo_plant, orders=orders, started_by="test", schedule=schedule,
        )  # fmt: skip
        with pytest.raises(DispatchRefused, match="refused it") as no_good:
            service.clear(target)
        assert (changed.value.reason, no_good.value.reason, no_good.value.runs) == (
            "schedule_changed", "verdict_refused", (refused,),
        )  # fmt: skip
        stale = service.clear(Target(other, demo_plant, tuple(orders), None))
        with pytest.raises(DispatchRefused, match="not on this schedule"):
            window.adopt(schedule, stale, orders)  # a clearance for another schedule does not carry over
        record_verdict(
            store, _verdict(schedule, True, {"A": 1.0}, demo_plant, orders),
            plant=demo_plant, orders=orders, started_by="test", schedule=schedule,
        )  # fmt: skip
        assert window.adopt(schedule, service.clear(target), orders) == 1
        refusals = store.list_runs(kind="dispatch", status="refused")
    assert len(refusals) == 3  # every refusal of the gate is recorded
    assert window.waiting == 1


def test_alerts_name_the_orders_below_the_policy() -> None:
    schedule = Schedule(())
    verdict = _verdict(schedule, False, {"A": 0.95, "B": 0.5, "C": 0.89, "D": 0.2})
    alerts = alerts_of(verdict, AcceptancePolicy(0.9), done={"D"})
    assert [a["order_id"] for a in alerts] == ["B", "C"]
    assert alerts[0]["on_time_probability"] == 0.5


def test_serve_config_errors_name_file_line_and_field(tmp_path: Path) -> None:
    cfg = tmp_path / "serve.yaml"
    cfg.write_text(
        "plant: demo\nopcua:\n  endpoint: opc.tcp://127.0.0.1:4840\n  securty: x\n"
        "policy:\n  min_on_time: 1.5\nrecheck_every: 5x\n"
    )
    with pytest.raises(InputError) as info:
        load_serve_config(cfg)
    text = [str(i) for i in info.value.issues]
    assert any(f"{cfg}:4" in t and "opcua.securty" in t and "unknown field" in t for t in text)
    assert any(f"{cfg}:6" in t and "policy.min_on_time" in t for t in text)
    assert any(f"{cfg}:7" in t and "recheck_every" in t for t in text)


def test_serve_config_resolves_relative_paths(tmp_path: Path) -> None:
    cfg = tmp_path / "serve.yaml"
    cfg.write_text(
        "plant: demo\nopcua: {endpoint: 'opc.tcp://h:4840'}\ndb: data/h.duckdb\nrecheck_every: 2m\n"
    )
    loaded = load_serve_config(cfg)
    assert loaded.db == tmp_path / "data/h.duckdb"
    assert loaded.recheck_every == 120.0
    assert loaded.plant == "demo"  # a sample name stays a name


def _event(t: float, station: str, kind: str, order: str, op: str, n: int) -> dict[str, object]:
    return {
        "time": t,
        "station": station,
        "machine": None,
        "kind": kind,
        "order_id": order,
        "operation": op,
        "quantity": n,
        "state": None,
    }


@pytest.fixture
def floor_history(tmp_path: Path, demo_plant: Plant) -> Path:
    """Two orders: M (3 MOUNT) finished at t=200 with one unit scrapped at mill and remade; P (2 PUMP-S)
    assembled twice (2 housings), one unit scrapped at test, one packed: not complete."""
    db = tmp_path / "h.duckdb"
    orders = [Order("M", "MOUNT", 3, 0.0, 250.0), Order("P", "PUMP-S", 2, 0.0, 1000.0)]
    rows = [
        _event(10, "saw", "produced", "M", "cut", 3),
        _event(20, "cnc2", "produced", "M", "mill", 2),
        _event(25, "cnc2", "scrapped", "M", "mill", 1),
        _event(40, "cnc2", "produced", "M", "mill", 1),
        _event(60, "drill", "produced", "M", "drill", 3),
        _event(80, "paint", "produced", "M", "paint", 3),
        _event(100, "pack", "produced", "M", "pack", 1),
        _event(200, "pack", "produced", "M", "pack", 2),
        _event(300, "assembly", "produced", "P", "assemble", 2),
        _event(320, "test", "produced", "P", "test", 1),
        _event(330, "test", "scrapped", "P", "test", 1),
        _event(400, "pack", "produced", "P", "pack", 1),
        _event(410, "pack", "state", "", "", 0),
    ]
    with HistoryStore(db) as store:
        store.record_run("plan", started_by="test", plant=demo_plant, orders=orders)
        frame = pd.DataFrame(rows)
        frame["state"] = frame["state"].astype("string")
        frame["machine"] = frame["machine"].astype("Int64")
        store.add_actual_events(frame)
    return db


def test_production_performance_per_order(floor_history: Path, demo_plant: Plant) -> None:
    with HistoryStore(floor_history, read_only=True) as store:
        perf = {p.order_id: p for p in production_performance(store, demo_plant, 0.0)}
        late_window = production_performance(store, demo_plant, 250.0)
    m, p = perf["M"], perf["P"]
    assert (m.produced, m.scrapped, m.started, m.completed, m.on_time) == (3, 1, 10.0, 200.0, True)
    assert m.consumed == {}
    assert [s.operation for s in m.segments] == ["cut", "mill", "drill", "paint", "pack"]
    assert (p.produced, p.scrapped, p.completed, p.on_time) == (1, 1, None, None)
    assert p.consumed == {"housing": 2.0}
    assert [o.order_id for o in late_window] == ["P"]


def test_export_actuals_csv_and_json(floor_history: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["export", "actuals", "--since", "0", "--format", "csv", "--db", str(floor_history)]
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["order_id"], r["produced"], r["scrapped"], r["consumed_housing"]) for r in rows] == [
        ("M", "3", "1", "0"),
        ("P", "1", "1", "2"),
    ]
    assert rows[0]["completed"] == "2026-11-30T00:03:20+01:00"  # epoch + 200 s, plant zone
    res = runner.invoke(
        app,
        [
            "export",
            "actuals",
            "--since",
            "2026-11-30T00:00:00",
            "--until",
            "2026-11-30T00:10:00",
            "--format",
            "json",
            "--db",
            str(floor_history),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)["production_performance"]
    assert [o["order_id"] for o in data["production_responses"]] == ["M", "P"]
    assert data["production_responses"][1]["segments"][0]["operation"] == "assemble"
    bad = runner.invoke(app, ["export", "actuals", "--since", "yesterday", "--db", str(floor_history)])
    assert bad.exit_code == 2 and "--since" in bad.output
    bad = runner.invoke(
        app, ["export", "actuals", "--since", "0", "--format", "xml", "--db", str(floor_history)]
    )
    assert bad.exit_code == 2 and "--format" in bad.output


def test_orders_round_trip_for_continue(tmp_path: Path, demo_plant: Plant) -> None:
    o = Order("RUSH-1", "PUMP-S", 20, 100.0, math.inf, 2.0)
    assert order_from_dict(json.loads(json.dumps(order_to_dict(o)))) == o
    with HistoryStore(tmp_path / "h.duckdb") as store:
        first = store.record_run("demo", started_by="test", plant=demo_plant)
        store.set_status(
            first, "ok", kpis={"completed_orders": ["SO-1001"], "rush_accepted": [order_to_dict(o)]}
        )
        second = store.record_run("demo", started_by="test", plant=demo_plant)
        store.set_status(second, "ok", kpis={"completed_orders": ["RUSH-1"], "rush_accepted": []})
        carried = carried_over(store)
    assert carried.runs == 2
    assert carried.completed == {"SO-1001", "RUSH-1"}
    assert carried.rush == ()  # the rush order was finished by the second run


def test_a_busy_dashboard_port_is_a_user_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = CliRunner().invoke(
            app, ["demo", "--no-browser", "--db", str(tmp_path / "h.duckdb"), "--port", str(port)]
        )
    assert res.exit_code == 2
    assert f"--port: cannot serve the dashboard on 127.0.0.1:{port}" in res.output


def test_fresh_moves_the_history_aside_and_forgets_the_plant_state(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    db.write_bytes(b"old history")
    state = state_dir(db) / "plant-state.json"
    state.parent.mkdir()
    state.write_text("{}")
    moved = start_fresh(db)
    assert not db.exists() and not state.exists()
    assert [p.read_bytes() for p in moved] == [b"old history"]
    assert moved[0].name.startswith("h.duckdb.") and moved[0].suffix == ".bak"
    assert start_fresh(db) == []  # nothing left to move
