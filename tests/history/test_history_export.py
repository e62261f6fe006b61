"""Export of runs and actuals to Parquet/CSV, and the Parquet snapshots a service publishes."""

from __future__ import annotations

import pandas as pd
import pytest
from history_data import events, sim_frames

from twin.errors import HistoryError
from twin.history import HistoryStore


def test_export_plan_run_to_parquet_and_csv(store, tiny_plant, tiny_orders, tiny_schedule, tmp_path):
    run = store.record_run("plan", started_by="me", plant=tiny_plant, orders=tiny_orders)
    store.add_schedule(run, tiny_schedule)
    files = store.export_run(run, tmp_path / "out" / "plan.parquet")
    assert [f.name for f in files] == ["plan.parquet", "plan.run.parquet"]
    ops = pd.read_parquet(files[0])
    assert len(ops) == 4 and set(ops["order_id"]) == {"O1", "O2"}
    assert ops["start"].tolist() == sorted(op.start for op in tiny_schedule.operations)
    first = ops.iloc[0]
    assert first["start_ts"] == pd.Timestamp("2026-11-30T00:00:00+01:00")
    assert pd.read_parquet(files[1])["id"].tolist() == [run]
    csv = store.export_run(run[:12], tmp_path / "plan.csv")
    assert pd.read_csv(csv[0])["quantity"].sum() == 10


def test_export_simulation_writes_each_table(store, tmp_path):
    run = store.record_run("simulation", started_by="me")
    ops, orders, states = sim_frames()
    store.add_simulation(run, operations=ops, orders=orders, states=states, kpis={"x": 1.0})
    files = store.export_run(run, tmp_path / "sim.parquet")
    names = [f.name for f in files]
    assert names == [
        "sim.parquet",
        "sim.orders.parquet",
        "sim.states.parquet",
        "sim.kpis.parquet",
        "sim.run.parquet",
    ]
    assert len(pd.read_parquet(files[0])) == len(ops)
    assert len(pd.read_parquet(files[1])) == len(orders)


def test_export_needs_a_known_suffix(store, tmp_path):
    run = store.record_run("demo", started_by="me")
    with pytest.raises(HistoryError, match=r"\.parquet or \.csv"):
        store.export_run(run, tmp_path / "out.xlsx")


def test_export_actuals_window(store, tiny_plant, tmp_path):
    store.record_run("sync", started_by="me", plant=tiny_plant)
    store.add_actual_events(events([(t, "A", "produced", "O1", "cut", 1, None) for t in (10, 20, 30, 40)]))
    files = store.export_actuals(15, 35, tmp_path / "actuals.csv")
    assert [f.name for f in files] == ["actuals.csv", "actuals.values.csv"]
    assert pd.read_csv(files[0])["time"].tolist() == [20.0, 30.0]
    assert len(pd.read_csv(files[1])) == 0


def test_snapshot_answers_the_same_queries(tmp_path, tiny_plant, tiny_orders, tiny_schedule):
    db = tmp_path / "h.duckdb"
    with HistoryStore(db) as store:
        run = store.record_run("plan", started_by="me", plant=tiny_plant, orders=tiny_orders)
        store.add_schedule(run, tiny_schedule)
        store.add_actual_events(events([(100, "A", "produced", "O1", "cut", 2, None)]))
        first = store.publish_snapshot(keep=2)
        store.record_run("demo", started_by="me")
        store.publish_snapshot(keep=2)
        last = store.publish_snapshot(keep=2)
        live = store.plan_vs_actual(run, None, 0, 7200, "station", 3600)
    assert not first.exists() and last.exists()  # older snapshots pruned
    with HistoryStore.open_snapshot(tmp_path / "h.duckdb.snapshot") as snap:
        assert snap.read_only and len(snap.list_runs()) == 2
        pd.testing.assert_frame_equal(snap.plan_vs_actual(run, None, 0, 7200, "station", 3600), live)
        with pytest.raises(HistoryError, match="read-only"):
            snap.record_run("demo", started_by="me")
    with pytest.raises(HistoryError, match="no history snapshot"):
        HistoryStore.open_snapshot(tmp_path / "nowhere")


def test_snapshot_publisher_publishes_on_a_timer_and_at_stop(tmp_path):
    import time

    from twin.history import SnapshotPublisher

    db = tmp_path / "h.duckdb"
    with HistoryStore(db) as store:
        with SnapshotPublisher(store, every=0.05) as pub:
            deadline = time.monotonic() + 10
            while pub.published < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            store.record_run("demo", started_by="me")
        assert pub.published >= 4 and pub.failures == 0
        with HistoryStore.open_snapshot(tmp_path / "h.duckdb.snapshot") as snap:
            assert len(snap.list_runs()) == 1  # the last snapshot, at stop, has the run
