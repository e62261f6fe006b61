"""The analytical queries against hand-computed answers on tiny data."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from history_data import TINY, events, sim_frames

from twin.errors import HistoryError
from twin.history import HistoryStore
from twin.plant import Plant
from twin.schedule import Schedule
from twin.stats import Estimate


def _runs(store: HistoryStore, plant: Plant, orders, schedule: Schedule) -> tuple[str, str]:
    plan = store.record_run("plan", started_by="t", plant=plant, orders=orders, kpis={"makespan": 4000.0})
    store.add_schedule(plan, schedule)
    sim = store.record_run("simulation", started_by="t", plant=plant, orders=orders, parent=plan)
    ops, ords, states = sim_frames()
    store.add_simulation(sim, operations=ops, orders=ords, states=states)
    return plan, sim


ACTUAL = [
    (150, "A", "produced", "O1", "cut", 2, None),
    (160, "A", "scrapped", "O1", "cut", 1, None),
    (3620, "A", "produced", "O2", "cut", 3, None),
    (650, "B", "produced", "O1", "assemble", 1, None),
    (700, "B", "produced", "O1", "assemble", 1, None),
    (5000, "B", "produced", "O2", "pack", 3, None),
    (8000, "A", "produced", "O2", "cut", 5, None),  # outside the window
]

# good units per replication per hourly bucket, read off history_data.sim_frames by hand
SIM_A = {0: [2, 3], 1: [4, 0], 2: [0, 5]}
SIM_B = {0: [2, 3], 1: [1, 3], 2: [0, 2]}


def _q(values: list[float], p: float) -> float:
    return float(np.quantile(values, p))  # linear interpolation, as DuckDB's quantile_cont


def test_plan_vs_actual_by_station(store, tiny_plant, tiny_orders, tiny_schedule):
    plan, sim = _runs(store, tiny_plant, tiny_orders, tiny_schedule)
    store.add_actual_events(events(ACTUAL))
    out = store.plan_vs_actual(plan, sim, 0, 7200, "station", 3600)
    assert list(out["station"]) == ["A", "A", "B", "B"]
    assert list(out["bucket_start"]) == [0.0, 3600.0] * 2
    assert list(out["planned"]) == [2, 3, 2, 3]
    assert list(out["planned_cum"]) == [2, 5, 2, 5]
    assert list(out["actual"]) == [2, 3, 2, 3]
    assert list(out["actual_cum"]) == [2, 5, 2, 5]
    for station, per_rep, rows in (
        ("A", SIM_A, out[out.station == "A"]),
        ("B", SIM_B, out[out.station == "B"]),
    ):
        for k in range(2):
            values = [per_rep[r][k] for r in range(3)]
            cums = [sum(per_rep[r][: k + 1]) for r in range(3)]
            row = rows.iloc[k]
            assert row.sim_median == pytest.approx(np.median(values)), station
            assert row.sim_p10 == pytest.approx(_q(values, 0.1))
            assert row.sim_p90 == pytest.approx(_q(values, 0.9))
            assert row.sim_cum_median == pytest.approx(np.median(cums))
            assert row.sim_cum_p10 == pytest.approx(_q(cums, 0.1))
            assert row.sim_cum_p90 == pytest.approx(_q(cums, 0.9))
    assert out["bucket_start_ts"].iloc[0] == pd.Timestamp("2026-11-30T00:00:00+01:00")


def test_plan_vs_actual_by_product_counts_only_the_last_operation(
    store, tiny_plant, tiny_orders, tiny_schedule
):
    plan, sim = _runs(store, tiny_plant, tiny_orders, tiny_schedule)
    store.add_actual_events(events(ACTUAL))
    out = store.plan_vs_actual(plan, sim, 0, 7200, "product", 3600)
    assert list(out["product"]) == ["P", "P", "Q", "Q"]
    assert list(out["planned"]) == [2, 0, 0, 3]
    assert list(out["actual"]) == [2, 0, 0, 3]
    # P finishes at 'assemble': reps 0,1 in the first hour (2, 1), rep 2 in the second (2)
    assert list(out["sim_median"]) == [1, 0, 0, 3]
    assert list(out["sim_cum_median"]) == [1, 2, 0, 3]
    # rep 2's O2 'cut' ends inside the window but Q's last operation is 'pack': not output
    assert out[out["product"] == "Q"]["sim_p10"].tolist() == pytest.approx([0.0, _q([3, 3, 0], 0.1)])


def test_plan_vs_actual_without_runs_and_default_window(store, tiny_plant, tiny_orders):
    store.record_run("sync", started_by="t", plant=tiny_plant, orders=tiny_orders)
    store.add_actual_events(events(ACTUAL))
    out = store.plan_vs_actual(None, None, by="station", bucket=3600)
    assert out["planned"].isna().all() and out["sim_median"].isna().all()
    assert out.groupby("station")["actual"].sum().to_dict() == {"A": 10, "B": 5}
    assert out["bucket_start"].min() == 150.0  # the window starts at the first event


def test_plan_vs_actual_shift_buckets(store, tiny_plant, tiny_orders):
    store.record_run("sync", started_by="t", plant=tiny_plant, orders=tiny_orders)
    early = 6 * 3600 + 60  # Monday 06:01 local
    store.add_actual_events(
        events(
            [(early, "A", "produced", "O1", "cut", 4, None), (3600, "A", "produced", "O1", "cut", 1, None)]
        )
    )
    out = store.plan_vs_actual(None, None, 0, 86400, "station", "shift")
    a = out[out.station == "A"]
    assert list(a["label"]) == ["off", "2026-11-30 early", "2026-11-30 late", "off"]
    assert list(a["bucket_start"]) == [0, 6 * 3600, 14 * 3600, 22 * 3600]
    assert list(a["actual"]) == [1, 4, 0, 0]


def test_plan_vs_actual_rejects_bad_arguments(store, tiny_plant):
    store.record_run("sync", started_by="t", plant=tiny_plant)
    with pytest.raises(HistoryError, match="by must be"):
        store.plan_vs_actual(None, None, 0, 10, "line", 5)
    with pytest.raises(HistoryError, match="bucket"):
        store.plan_vs_actual(None, None, 0, 10, "station", "fortnight")
    with pytest.raises(HistoryError, match="no run"):
        store.plan_vs_actual("plan-nope", None, 0, 10, "station", 5)


def _state_events() -> pd.DataFrame:
    h = 3600
    seq = [
        (6 * h, "Execute"),
        (7 * h, "Setup"),
        (7 * h + 900, "Execute"),
        (10 * h, "Aborted"),
        (10.5 * h, "Execute"),
        (12 * h, "Maintenance"),
        (13 * h, "Starved"),
        (13.5 * h, "Idle"),
        (14 * h, "Stopped"),
    ]
    states = [(t, "B", "state", None, None, 0, s) for t, s in seq]
    produced = [
        (8 * h, "B", "produced", "O1", "assemble", 100, None),
        (8 * h, "B", "scrapped", "O1", "assemble", 5, None),
        (9 * h, "B", "produced", "O2", "pack", 30, None),
    ]
    return events(states + produced)


def test_oee_per_shift_iso22400(store, tiny_plant, tiny_orders):
    store.record_run("sync", started_by="t", plant=tiny_plant, orders=tiny_orders)
    store.add_actual_events(_state_events())
    out = store.oee_per_shift(0, 86400)
    early = out[(out.station == "B") & (out["shift"] == "2026-11-30 early")].iloc[0]
    assert early.recorded == 8 * 3600
    assert early.pot == 8 * 3600 and early.pdot == 3600 and early.pbt == 7 * 3600
    assert early.apt == 3600 + 9900 + 5400
    assert early.aust == 900 and early.adet == 1800 and early.adot == 1800 and early.idle == 1800
    assert (early.pq, early.gq, early.sq) == (135, 130, 5)
    assert early.planned_run_time == 105 * 120 + 30 * 40
    assert early.availability == pytest.approx(18900 / 25200)
    assert early.effectiveness == pytest.approx(13800 / 18900)
    assert early.quality == pytest.approx(130 / 135)
    assert early.oee == pytest.approx(18900 / 25200 * 13800 / 18900 * 130 / 135)
    late = out[(out.station == "B") & (out["shift"] == "2026-11-30 late")].iloc[0]
    assert late.recorded == 8 * 3600 and late.pot == 0 and math.isnan(late.availability)
    # station A has no state events: nothing recorded, ratios undefined
    a = out[out.station == "A"]
    assert (a["recorded"] == 0).all() and a["oee"].isna().all()
    assert early.shift_start_ts == pd.Timestamp("2026-11-30T06:00:00+01:00")


def test_on_time_per_day_actual_and_simulated(store, tiny_plant, tiny_orders, tiny_schedule):
    _plan, sim = _runs(store, tiny_plant, tiny_orders, tiny_schedule)
    store.add_actual_events(
        events(
            [
                (3000, "B", "order_finished", "O1", None, 2, None),
                (90000, "B", "order_finished", "O2", None, 3, None),
                (90500, "B", "order_finished", "O9", None, 1, None),
                (100000, "B", "order_finished", "O1", None, 2, None),
            ]
        )
    )
    out = store.on_time_per_day()
    assert list(out["date"]) == [date(2026, 11, 30), date(2026, 12, 1)]
    assert list(out["orders"]) == [1, 1] and list(out["on_time"]) == [1, 0]
    assert list(out["unknown_due"]) == [0, 1]
    assert list(out["on_time_rate"]) == [1.0, 0.0]
    assert out["ci_low"].iloc[0] < 1.0 and out["ci_high"].iloc[1] > 0.0
    simulated = store.on_time_per_day(run=sim)
    assert list(simulated["orders"]) == [pytest.approx(5 / 3)]
    assert list(simulated["on_time_rate"]) == [1.0]
    window = store.on_time_per_day(datetime.fromisoformat("2026-12-01T00:00:00+01:00"), 2 * 86400.0)
    assert list(window["date"]) == [date(2026, 12, 1)]


def test_compare_runs(store, tiny_plant, tiny_orders, tiny_schedule):
    plan, sim = _runs(store, tiny_plant, tiny_orders, tiny_schedule)
    other = store.record_run(
        "scenario", started_by="t", plant=tiny_plant, kpis={"makespan": 5000.0}, parent=plan
    )
    store.add_kpis(other, {"throughput": Estimate(10.0, 9.0, 11.0, 30)})
    store.add_kpis(plan, {"throughput": 8.0})
    out = store.compare_runs(plan, other).set_index("kpi")
    assert out.loc["makespan", "a"] == 4000 and out.loc["makespan", "b"] == 5000
    assert out.loc["makespan", "difference"] == 1000 and out.loc["makespan", "relative"] == pytest.approx(
        0.25
    )
    assert (out.loc["throughput", "low_b"], out.loc["throughput", "high_b"]) == (9.0, 11.0)
    assert out.loc["throughput", "difference"] == 2.0
    assert out.loc["schedule.makespan", "a"] == 4000 and math.isnan(out.loc["schedule.makespan", "b"])
    sim_kpis = store.compare_runs(sim, sim).set_index("kpi")
    assert sim_kpis.loc["sim.on_time_rate", "a"] == 1.0


def test_oee_matches_the_kpi_engine_on_the_same_intervals(store, tiny_plant, tiny_orders):
    """The SQL path agrees with twin.kpi fed the state intervals directly (one KPI engine)."""
    from twin.kpi import Production, time_elements

    store.record_run("sync", started_by="t", plant=tiny_plant, orders=tiny_orders)
    ev = _state_events()
    store.add_actual_events(ev)
    st = ev[ev.kind == "state"].sort_values("time")
    intervals = [
        ("B", s, a, b)
        for s, a, b in zip(st["state"], st["time"], [*st["time"].iloc[1:], 86400.0], strict=True)
    ]
    window = (6 * 3600.0, 14 * 3600.0)
    ref = time_elements(intervals, window, [Production("B", 130, 5, 0, 13800.0)])["B"].kpis()
    row = store.oee_per_shift(0, 86400).set_index(["station", "shift"]).loc[("B", "2026-11-30 early")]
    for name, value in ref.items():
        assert row[name] == pytest.approx(value, nan_ok=True), name


def test_shift_buckets_with_an_epoch_off_the_minute(tmp_path):
    """Shift boundaries 30 s off the minute: events are bucketed one by one, still exactly."""
    from twin.loader import plant_from_text

    plant, _ = plant_from_text(TINY.replace("T00:00:00+01:00", "T00:00:30+01:00"), "odd.yaml")
    early = 6 * 3600 - 30  # 06:00 local in plant seconds
    with HistoryStore(tmp_path / "h.duckdb") as store:
        store.record_run("sync", started_by="t", plant=plant)
        rows = [
            (early - 1, "A", "produced", "O1", "cut", 1, None),
            (early, "A", "produced", "O1", "cut", 2, None),
        ]
        store.add_actual_events(events(rows))
        out = store.plan_vs_actual(None, None, 0, 86400, "station", "shift")
    a = out[out.station == "A"]
    assert list(a["bucket_start"][:2]) == [0, early]
    assert list(a["actual"][:2]) == [1, 2]


def test_oee_is_the_same_with_an_epoch_off_the_minute(tmp_path, tiny_plant, tiny_orders):
    """The (station, minute) lookup and the range-join fallback give the same answer."""
    from twin.loader import plant_from_text

    odd, _ = plant_from_text(TINY.replace("T00:00:00+01:00", "T00:00:30+01:00"), "odd.yaml")
    results = []
    for plant, shift in ((tiny_plant, 0.0), (odd, -30.0)):
        with HistoryStore(tmp_path / f"{shift}.duckdb") as store:
            store.record_run("sync", started_by="t", plant=plant, orders=tiny_orders)
            store.add_actual_events(_state_events().assign(time=lambda f, d=shift: f["time"] + d))
            out = store.oee_per_shift(0, 86400 + shift)
            results.append(out.drop(columns=["shift_start", "shift_end", "shift_start_ts", "shift_end_ts"]))
    pd.testing.assert_frame_equal(results[0], results[1])
    assert results[0]["oee"].notna().any()
