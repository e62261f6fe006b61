"""Runs, plants, order books, schedules, simulations, verdicts and actuals: write, read back."""

from __future__ import annotations

import dataclasses
import math
import threading

import pandas as pd
import pyarrow as pa
import pytest
from history_data import events, sim_frames

from twin.errors import HistoryError
from twin.history import RUN_KINDS, HistoryStore
from twin.stats import Estimate
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict


def test_record_run_keeps_plant_and_orders_content_addressed(store, tiny_plant, tiny_orders):
    a = store.record_run("plan", started_by="me", plant=tiny_plant, orders=tiny_orders, params={"seed": 7})
    b = store.record_run("simulation", started_by="me", plant=tiny_plant, orders=tiny_orders, parent=a)
    assert a != b and a.startswith("plan-") and b.startswith("simulation-")
    assert store.sql("SELECT count(*) AS n FROM plants")["n"][0] == 1
    assert store.sql("SELECT count(*) AS n FROM order_books")["n"][0] == 1
    run = store.get_run(b)
    assert run["parent"] == a and run["plant_name"] == "tiny"
    assert store.get_run(a)["children"] == [b]
    assert store.get_run(a)["params"] == {"seed": 7}
    # re-run: the stored plant and orders are equal to the originals
    store._plants.clear()
    assert store.get_plant(run["plant_hash"]).content_hash() == tiny_plant.content_hash()
    assert store.get_orders(b) == tiny_orders


def test_infinite_due_date_round_trips(store, tiny_plant):
    from twin.orders import Order

    orders = [Order("X", "P", 1)]
    run = store.record_run("plan", started_by="me", plant=tiny_plant, orders=orders)
    assert math.isinf(store.get_orders(run)[0].due)


def test_record_run_rejects_unknown_kind_and_parent(store):
    with pytest.raises(HistoryError, match="run kind"):
        store.record_run("guess", started_by="me")
    with pytest.raises(HistoryError, match="no run"):
        store.record_run("plan", started_by="me", parent="plan-missing")
    assert store.list_runs().empty
    assert set(RUN_KINDS) == {
        "plan",
        "simulation",
        "scenario",
        "verdict",
        "dispatch",
        "sync",
        "demo",
        "fidelity",
    }


def test_resolve_run_by_prefix_and_ambiguity(store):
    a = store.record_run("plan", started_by="me")
    store.record_run("plan", started_by="me")
    assert store.resolve_run(a[:-3]) == a
    with pytest.raises(HistoryError, match="ambiguous"):
        store.resolve_run("plan-")


def test_list_runs_filters(store, tiny_plant):
    plan = store.record_run("plan", started_by="alice", plant=tiny_plant)
    store.record_run("verdict", started_by="bob", parent=plan, status="refused")
    store.record_run("demo", started_by="carol")
    assert list(store.list_runs()["kind"]) == ["demo", "verdict", "plan"]
    assert list(store.list_runs(kind="plan")["id"]) == [plan]
    assert list(store.list_runs(status="refused")["kind"]) == ["verdict"]
    assert list(store.list_runs(parent=plan)["kind"]) == ["verdict"]
    assert list(store.list_runs(plant="tiny")["id"]) == [plan]
    assert list(store.list_runs(started_by="car")["kind"]) == ["demo"]
    assert len(store.list_runs(since="1h")) == 3 and store.list_runs(since="2999-01-01").empty
    assert len(store.list_runs(limit=2)) == 2


def test_schedule_round_trip_is_the_same_plan(store, tiny_schedule):
    run = store.record_run("plan", started_by="me")
    store.add_schedule(run, tiny_schedule)
    back = store.get_schedule(run)
    assert back == tiny_schedule and back.content_hash() == tiny_schedule.content_hash()
    assert back.meta == {"solver": "hand"}
    with pytest.raises(HistoryError, match="no schedule"):
        store.get_schedule(store.record_run("demo", started_by="me"))


def test_a_planned_transfer_batch_survives_the_round_trip(store, tiny_schedule):
    first, *rest = tiny_schedule.operations
    split = dataclasses.replace(
        tiny_schedule, operations=(dataclasses.replace(first, transfer_batch=2), *rest)
    )
    run = store.record_run("plan", started_by="me")
    store.add_schedule(run, split)
    back = store.get_schedule(run)
    assert back == split and back.content_hash() == split.content_hash() != tiny_schedule.content_hash()


def test_simulation_frames_and_estimates(store):
    run = store.record_run("simulation", started_by="me")
    ops, orders, states = sim_frames()
    store.add_simulation(
        run, operations=ops, orders=orders, states=states, kpis={"throughput": Estimate(2.0, 1.5, 2.5, 3)}
    )
    info = store.get_run(run)
    assert info["rows"] == {"sim_operations": 11, "sim_orders": 6, "sim_states": 2, "run_kpis": 1}
    assert info["estimates"]["throughput"] == {"mean": 2.0, "low": 1.5, "high": 2.5, "n": 3}
    back = store.sql("SELECT * EXCLUDE (run_id) FROM sim_operations ORDER BY replication, order_id, op_index")
    pd.testing.assert_frame_equal(
        back,
        ops.sort_values(["replication", "order_id", "op_index"]).reset_index(drop=True),
        check_dtype=False,
    )


def test_frames_must_have_exactly_the_columns(store):
    run = store.record_run("simulation", started_by="me")
    ops, orders, states = sim_frames()
    with pytest.raises(HistoryError, match="missing good"):
        store.add_simulation(run, operations=ops.drop(columns=["good"]), orders=orders, states=states)
    with pytest.raises(HistoryError, match="unexpected colour"):
        store.add_simulation(run, operations=ops, orders=orders, states=states.assign(colour="red"))
    bad = events([(1, "A", "exploded", None, None, 1, None)])
    with pytest.raises(HistoryError, match="kind 'exploded'"):
        store.add_actual_events(bad)
    with pytest.raises(HistoryError, match="does not fit"):
        store.add_actual_events(events([(1, "A", "produced", None, None, 1, None)]).assign(quantity="many"))
    assert store.sql("SELECT count(*) AS n FROM sim_operations")["n"][0] == 0


def test_verdict_round_trip(store):
    run = store.record_run("verdict", started_by="me")
    verdict = Verdict(
        schedule_hash="abc",
        accepted=False,
        reasons=("O2 on time in 40% of replications (needs 90%)",),
        orders=(OrderVerdict("O2", 100.0, 90.0, 0.4, 0.2, 0.6, 110.0, 10.0, {"setup": 3.0}),),
        makespans=(110.0, 120.0),
        replications=2,
        seed=1,
        policy=AcceptancePolicy(),
    )
    store.add_verdict(run, verdict)
    info = store.get_run(run)
    assert info["verdict"]["accepted"] is False and info["verdict"]["reasons"] == list(verdict.reasons)
    orders = store.get_verdict_orders(run)
    assert orders["on_time_probability"].tolist() == [0.4] and orders["delay"].tolist() == ['{"setup": 3.0}']


def test_actual_values_with_timestamps_and_text(store):
    ts = pd.Timestamp("2026-11-30T06:00:00+01:00")
    frame = pd.DataFrame(
        {
            "time": [21600.0, 21601.0],
            "source_time": [ts, None],
            "server_time": [ts, ts],
            "node_id": ["ns=2;s=L.A.State", "ns=2;s=L.A.GoodCount"],
            "station": ["A", "A"],
            "tag": ["state", "good_count"],
            "value": [float("nan"), 12.0],
            "value_text": ["Execute", None],
            "status_code": [0, 0x80000000],
            "status": ["Good", "Bad"],
        }
    )
    assert store.add_actual_values(frame) == 2
    back = store.sql("SELECT * FROM actual_values ORDER BY time")
    assert back["source_time"][0] == ts and pd.isna(back["source_time"][1])
    assert back["value_text"][0] == "Execute" and back["value"][1] == 12.0
    assert back["status_code"][1] == 0x80000000


def test_transaction_is_all_or_nothing(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.record_run("plan", started_by="me")
        store.add_actual_events(events([(1, "A", "produced", "O1", "cut", 1, None)]))
        raise RuntimeError("boom")
    assert store.list_runs().empty
    assert store.sql("SELECT count(*) AS n FROM actual_events")["n"][0] == 0


def test_threads_share_one_store(store):
    """The service pattern: one read-write store, many threads, each call on its own cursor."""
    batch = pa.Table.from_pandas(events([(t, "A", "produced", "O1", "cut", 1, None) for t in range(500)]))
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                store.add_actual_events(batch)
                store.list_runs()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.sql("SELECT count(*) AS n FROM actual_events")["n"][0] == 4 * 10 * 500


def test_closed_and_read_only_stores_refuse_writes(tmp_path):
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as s:
        s.record_run("demo", started_by="me")
    s.close()  # closing twice is fine
    with pytest.raises(HistoryError, match="closed"):
        s.list_runs()
    with HistoryStore(path, read_only=True) as ro:
        assert len(ro.list_runs()) == 1
        with pytest.raises(HistoryError, match="read-only"):
            ro.record_run("demo", started_by="me")
    with pytest.raises(HistoryError, match="no history file"):
        HistoryStore(tmp_path / "none.duckdb", read_only=True)


def test_a_file_that_is_not_a_history_is_refused(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database\n" * 100)
    with pytest.raises(HistoryError, match="cannot open"):
        HistoryStore(path)
