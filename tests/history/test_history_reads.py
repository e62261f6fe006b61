"""The typed read API that the dashboard, the demo and the exporters use instead of SQL: runs as
records, verdicts as `Verdict`s, and the floor's log, each checked against hand-counted data in a
DuckDB file on disk."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest
from history_data import events

from twin.errors import HistoryError
from twin.history import BookEntry, HistoryReader, HistoryStore, RunRecord
from twin.live import OperationProgress
from twin.orders import Order
from twin.states import MachineState
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict

FLOOR = [
    # time, station, kind, order, operation, quantity, state
    (10, "A", "state", None, None, 0, "Execute"),
    (20, "A", "order_started", "O1", "cut", 0, None),
    (60, "A", "produced", "O1", "cut", 2, None),
    (70, "A", "scrapped", "O1", "cut", 1, None),
    (80, "A", "state", None, None, 0, "Starved"),
    (90, "B", "order_started", "O1", "assemble", 0, None),
    (95, "A", "order_started", "O2", "cut", 0, None),
    (200, "B", "produced", "O1", "assemble", 1, None),
    (250, "B", "produced", "O1", "assemble", 1, None),
    (260, "B", "order_finished", "O1", "assemble", 0, None),
    (300, "B", "state", None, None, 0, "NotAPackMLState"),
]


def test_the_store_is_a_reader_and_reads_nothing_from_an_empty_floor(store: HistoryStore) -> None:
    assert isinstance(store, HistoryReader)
    assert store.latest_actual_time() is None
    assert store.floor_as_recorded() is None
    assert store.actual_operations(0.0, 1e9).empty
    assert store.latest_book_entries() == {}


def test_floor_as_recorded_is_the_last_state_and_the_summed_counts(store: HistoryStore) -> None:
    store.add_actual_events(events(FLOOR))
    assert store.latest_actual_time() == 300.0
    live = store.floor_as_recorded()
    assert live is not None and live.stale and live.time == 300.0 and live.last_good == 300.0
    a, b = live.stations["A"], live.stations["B"]
    assert (a.state, a.since, a.good_count, a.reject_count, a.last_heard) == (
        MachineState.STARVED, 80.0, 2, 1, 95.0
    )  # fmt: skip
    # B's last state is no PackML name: read as Idle, since that event
    assert (b.state, b.since, b.good_count, b.reject_count, b.last_heard) == (
        MachineState.IDLE, 300.0, 2, 0, 300.0
    )  # fmt: skip
    # O1 finished; O2 started its cut at 95 and has not finished
    assert live.in_progress == (OperationProgress("O2", -1, "A", 0, 95.0),)


def test_actual_operations_overlap_the_window_and_name_the_latest_books_product(
    store: HistoryStore, tiny_plant
) -> None:
    store.record_run("plan", started_by="t", plant=tiny_plant, orders=[Order("O1", "Q", 2, 0.0, 500.0)])
    store.record_run("plan", started_by="t", plant=tiny_plant, orders=[Order("O1", "P", 2, 0.0, 400.0)])
    store.add_actual_events(events(FLOOR))
    ops = store.actual_operations(100.0, 220.0)
    # O1/cut ran 20..70 and O2/cut 95..95, both before the window; O1/assemble 90..260 overlaps it
    assert list(zip(ops["order_id"], ops["operation"], ops["start"], ops["end"], strict=True)) == [
        ("O1", "assemble", 90.0, 260.0),
    ]
    assert ops["product"].tolist() == ["P"] and ops["op_index"].tolist() == [-1]
    assert store.actual_operations(0.0, 1000.0)["order_id"].tolist() == ["O1", "O1", "O2"]
    assert store.actual_operations(0.0, 1000.0)["product"].tolist() == ["P", "P", ""]


def test_latest_book_entries_take_the_most_recently_stored_book(store: HistoryStore, tiny_plant) -> None:
    store.record_run("plan", started_by="t", orders=[Order("O1", "Q", 5, 0.0, 500.0)])
    store.record_run("plan", started_by="t", orders=[Order("O1", "P", 2, 0.0, math.inf), Order("O9", "Q", 1)])
    assert store.latest_book_entries() == {
        "O1": BookEntry("O1", "P", 2, None),
        "O9": BookEntry("O9", "Q", 1, None),
    }


def test_order_segments_and_produced_events_in_a_window(store: HistoryStore) -> None:
    store.add_actual_events(events(FLOOR))
    seg = store.order_segments(0.0)
    assert seg[["order_id", "operation", "produced", "scrapped", "first", "last"]].values.tolist() == [
        ["O1", "cut", 2, 1, 20.0, 70.0],
        ["O1", "assemble", 2, 0, 90.0, 260.0],
        ["O2", "cut", 0, 0, 95.0, 95.0],
    ]
    assert store.order_segments(100.0, 255.0)["produced"].tolist() == [2]
    produced = store.produced_events(0.0, 250.0)
    assert produced[["operation", "time", "quantity"]].values.tolist() == [
        ["cut", 60.0, 2],
        ["assemble", 200.0, 1],
    ]


def test_process_series_keeps_good_finite_values_in_the_window(store: HistoryStore) -> None:
    rows = [
        # time, tag, value, status code
        (1.0, "temp", 20.0, 0),
        (2.0, "temp", 21.0, 0x40000000),  # uncertain: left out
        (3.0, "temp", float("nan"), 0),  # not numeric: left out
        (4.0, "temp", 22.0, 0),
        (5.0, "speed", 9.0, 0),  # another tag
        (6.0, "temp", 23.0, 0x80000000),  # bad: left out
        (7.0, "temp", 24.0, 0),
    ]
    store.add_actual_values(
        pd.DataFrame(
            {
                "time": [r[0] for r in rows],
                "source_time": [None] * len(rows),
                "server_time": [None] * len(rows),
                "node_id": [f"ns=2;s=A.{r[1]}" for r in rows],
                "station": ["A"] * len(rows),
                "tag": [r[1] for r in rows],
                "value": [r[2] for r in rows],
                "value_text": [None] * len(rows),
                "status_code": [r[3] for r in rows],
                "status": [None] * len(rows),
            }
        )
    )
    series = store.process_series("A", "temp")
    assert series.values.tolist() == [[1.0, 20.0], [4.0, 22.0], [7.0, 24.0]]
    assert store.process_series("A", "temp", limit=2)["time"].tolist() == [4.0, 7.0]  # the last two
    assert store.process_series("A", "temp", start=2.0, end=7.0)["time"].tolist() == [4.0]
    assert store.process_series("B", "temp").empty


def test_runs_are_typed_records(store: HistoryStore, tiny_plant) -> None:
    plan = store.record_run(
        "plan",
        started_by="me",
        plant=tiny_plant,
        params={"name": "friday"},
        kpis={"makespan": 10.0, "ok": True, "side": {"a": 1}},
    )
    sim = store.record_run("simulation", started_by="you", parent=plan, status="refused")
    run = store.run(plan[:-2])  # a unique prefix is enough
    assert isinstance(run, RunRecord) and run.id == plan and run.kind == "plan"
    assert isinstance(run.created_at, datetime) and run.created_at.tzinfo is not None
    assert run.plant_name == "tiny" and run.plant_hash == tiny_plant.content_hash() and run.parent is None
    assert run.params == {"name": "friday"} and run.label == "friday"
    assert run.numbers() == {"makespan": 10.0, "side.a": 1.0}  # booleans are not numbers here
    assert [r.id for r in store.runs()] == [sim, plan]  # newest first
    (child,) = store.runs(kind="simulation", parent=plan, status="refused")
    assert child == store.run(sim) and child.parent == plan and child.label == "you"
    assert child.created_at >= run.created_at
    with pytest.raises(HistoryError, match="no run"):
        store.run("nothing-like-it")


def test_get_verdict_gives_back_the_stored_verdict(store: HistoryStore) -> None:
    verdict = Verdict(
        schedule_hash="abc",
        accepted=False,
        reasons=("O2 on time in 40% of replications (needs 90%)",),
        orders=(
            OrderVerdict("O1", math.inf, None, 1.0, 0.8, 1.0, 50.0, -10.0, {}),
            OrderVerdict("O2", 100.0, 90.0, 0.4, 0.2, 0.6, 110.0, 10.0, {"setup": 3.0}),
        ),
        makespans=(110.0, 120.0),
        replications=2,
        seed=1,
        policy=AcceptancePolicy(min_on_time=0.8, service_level=0.95),
        station_utilisation={"A": 0.7},
        overloaded=("A",),
        starved=("B",),
    )
    run = store.record_run("verdict", started_by="me")
    store.add_verdict(run, verdict)
    assert store.get_verdict(run) == verdict
    with pytest.raises(HistoryError, match="no verdict"):
        store.get_verdict(store.record_run("plan", started_by="me"))


def test_a_snapshot_answers_the_same_reads(store: HistoryStore, tmp_path) -> None:
    store.add_actual_events(events(FLOOR))
    run = store.record_run("plan", started_by="me", kpis={"x": 1})
    with HistoryStore.open_snapshot(store.publish_snapshot(tmp_path / "snap").parent) as snap:
        assert snap.floor_as_recorded() == store.floor_as_recorded()
        assert snap.run(run) == store.run(run)
