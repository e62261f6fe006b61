"""Actual-side KPIs from floor events (twin.history.kpis): hand-worked cases for ties, parallel
machines, batch times, ideal times without an order book and missing tags; the simulator's floor
through sync's tracker against the simulator's own KPIs; the `plantwin history kpis` contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from floor_feed import FloorFeed
from typer.testing import CliRunner

from plantwin.cli import app
from twin.history import HistoryStore
from twin.loader import plant_from_text
from twin.orders import Order
from twin.plant import Plant

PLANT = """
name: kpiplant
epoch: 2026-11-30T00:00:00+01:00
lines:
  - id: L
    stations:
      - {id: saw, machines: 2}
      - {id: wash}
      - {id: mill}
products:
  - id: S
    routing:
      - {id: cut, stations: saw, time: 60}
      - {id: wash, stations: wash, time: 15, batch_time: 600}
      - {id: mill, stations: mill, time: 50}
  - id: L
    routing:
      - {id: cut, stations: saw, time: 90}
      - {id: mill, stations: mill, time: 80}
"""
H = 3600.0
runner = CliRunner()


@pytest.fixture
def plant() -> Plant:
    return plant_from_text(PLANT, "kpiplant.yaml")[0]


def _events(rows: list[tuple]) -> pd.DataFrame:
    """(time, station, machine, kind, order_id, operation, quantity, state) rows, in writing order."""
    cols = ["time", "station", "machine", "kind", "order_id", "operation", "quantity", "state"]
    frame = pd.DataFrame(rows, columns=cols).astype({"time": float, "quantity": "int64"})
    return frame.astype({"machine": "Int64"})


def _kpis(
    tmp_path: Path, plant: Plant, rows: list[tuple], orders: list[Order] | None = None, **kw
) -> pd.DataFrame:
    with HistoryStore(tmp_path / "h.duckdb") as store:
        store.record_run("sync", started_by="t", plant=plant, orders=orders)
        store.add_actual_events(_events(rows))
        return store.actual_kpis(0, 2 * H, **kw).set_index("station")


def test_state_events_at_the_same_time_count_in_the_order_written(tmp_path, plant):
    # Idle then Execute at t=0 (written in this order): the machine executes; reversed, it idles
    ex = [(0, "mill", 0, "state", None, None, 0, "Idle"), (0, "mill", 0, "state", None, None, 0, "Execute")]
    assert _kpis(tmp_path / "a", plant, ex).loc["mill", "availability"] == 1.0
    assert _kpis(tmp_path / "b", plant, ex[::-1]).loc["mill", "availability"] == 0.0


def test_ties_hold_in_a_published_snapshot_too(tmp_path, plant):
    rows = [(0, "mill", 0, "state", None, None, 0, "Idle"), (0, "mill", 0, "state", None, None, 0, "Execute")]
    with HistoryStore(tmp_path / "h.duckdb") as store:
        store.record_run("sync", started_by="t", plant=plant)
        store.add_actual_events(_events(rows))
        store.publish_snapshot(tmp_path / "snap")
    reader = HistoryStore.open_snapshot(tmp_path / "snap")  # views over Parquet: no rowid there
    try:
        assert reader.actual_kpis(0, 2 * H).set_index("station").loc["mill", "availability"] == 1.0
    finally:
        reader.close()


def _saw_hour(machine_rows: list[tuple]) -> list[tuple]:
    """Two orders cut on the saw in one hour: S (60 s) on one machine, L (90 s) on the other."""
    produced = [(600 + 60 * i, "saw", None, "produced", "S1", "cut", 1, None) for i in range(50)]
    produced += [(900 + 90 * i, "saw", None, "produced", "L1", "cut", 1, None) for i in range(30)]
    starts = [
        (0, "saw", None, "order_started", "S1", "cut", 0, None),
        (0, "saw", None, "order_started", "L1", "cut", 0, None),
    ]
    return sorted(starts + machine_rows + produced, key=lambda r: r[0])


def test_two_machines_behind_one_state_tag_share_the_planned_capacity(tmp_path, plant):
    # one State tag for both saw machines, Execute for the hour: 50 x 60 s + 30 x 90 s of work
    # on 2 x 3600 machine-seconds. Counting the station's hour once would say 158 %.
    rows = _saw_hour(
        [
            (0, "saw", None, "state", None, None, 0, "Execute"),
            (H, "saw", None, "state", None, None, 0, "Idle"),
        ]
    )
    books = [Order("S1", "S", 50, release=0, due=H), Order("L1", "L", 30, release=0, due=H)]
    saw = _kpis(tmp_path, plant, rows, books, by="station").loc["saw"]
    assert saw["state_basis"] == "station" and saw["machines"] == 2
    assert saw["apt"] == 2 * H
    assert saw["performance"] == pytest.approx((50 * 60 + 30 * 90) / (2 * H))
    assert saw["performance"] <= 1.0


def test_per_machine_states_are_summed_over_the_machines(tmp_path, plant):
    states = [
        (0, "saw", 0, "state", None, None, 0, "Execute"),
        (0, "saw", 1, "state", None, None, 0, "Execute"),
        (H, "saw", 0, "state", None, None, 0, "Idle"),
        (0.5 * H, "saw", 1, "state", None, None, 0, "Idle"),
    ]
    books = [Order("S1", "S", 50, release=0, due=H), Order("L1", "L", 30, release=0, due=H)]
    saw = _kpis(tmp_path, plant, _saw_hour(states), books).loc["saw"]
    assert saw["state_basis"] == "machine" and saw["apt"] == 1.5 * H and saw["pbt"] == 4 * H
    assert saw["availability"] == pytest.approx(1.5 / 4)
    assert saw["performance"] == pytest.approx((50 * 60 + 30 * 90) / (1.5 * H))


def test_units_of_the_other_machine_are_counted_to_its_lot(tmp_path, plant):
    # L1 started last, so every unit carries its id; with the book's quantities 50 of the 80
    # units are S1's (60 s), not L1's (90 s)
    rows = _saw_hour(
        [
            (0, "saw", None, "state", None, None, 0, "Execute"),
            (H, "saw", None, "state", None, None, 0, "Idle"),
        ]
    )
    rows = [(t, s, m, k, ("L1" if k == "produced" else o), op, q, st) for t, s, m, k, o, op, q, st in rows]
    books = [Order("S1", "S", 50, release=0, due=H), Order("L1", "L", 30, release=0, due=H)]
    saw = _kpis(tmp_path, plant, rows, books).loc["saw"]
    assert saw["planned_run_time"] == pytest.approx(50 * 60 + 30 * 90)


def test_batch_time_belongs_to_the_planned_run_time(tmp_path, plant):
    # a lot of 40: 10 min batch + 40 x 15 s, all Execute: 100 % (39 % if the batch were left out)
    rows = [
        (0, "wash", 0, "order_started", "S1", "wash", 0, None),
        (0, "wash", 0, "state", None, None, 0, "Execute"),
        *[(600 + 15 * (i + 1), "wash", 0, "produced", "S1", "wash", 1, None) for i in range(40)],
        (1200, "wash", 0, "state", None, None, 0, "Idle"),
    ]
    wash = _kpis(tmp_path, plant, rows, [Order("S1", "S", 40, release=0, due=H)]).loc["wash"]
    assert wash["performance"] == pytest.approx(1.0) and wash["batches"] == 1


def test_ideal_times_from_the_plant_file_without_an_order_book(tmp_path, plant):
    # no book: order A was milled (S and L both mill) and washed (only S washes): it is an S;
    # order B was only cut: S or L, 60 s or 90 s, so the saw's effectiveness is not measured
    rows = [
        (0, "mill", 0, "state", None, None, 0, "Execute"),
        (0, "saw", None, "state", None, None, 0, "Execute"),
        *[(50 * (i + 1), "mill", 0, "produced", "A", "mill", 1, None) for i in range(20)],
        (1000, "mill", 0, "state", None, None, 0, "Idle"),
        (1000, "wash", 0, "produced", "A", "wash", 1, None),
        (100, "saw", None, "produced", "B", "cut", 1, None),
    ]
    out = _kpis(tmp_path, plant, rows)
    assert out.loc["mill", "performance"] == pytest.approx(20 * 50 / 1000)  # S's 50 s, not L's 80 s
    assert math.isnan(out.loc["saw", "performance"]) and math.isnan(out.loc["saw", "oee"])
    assert "no ideal time for 1 units" in out.loc["saw", "not_measured"]


def test_a_tag_the_floor_does_not_have_is_not_measured(tmp_path, plant):
    # the mill's floor reports State and GoodCount values, no RejectCount: no quality, no OEE
    values = pd.DataFrame(
        {
            "time": [0.0, 0.0],
            "source_time": pd.to_datetime([None, None], utc=True),
            "server_time": pd.to_datetime([None, None], utc=True),
            "node_id": ["s=mill.state", "s=mill.good"],
            "station": ["mill", "mill"],
            "tag": ["state", "good_count"],
            "value": [math.nan, 0.0],
            "value_text": ["Execute", "0"],
            "status_code": [0, 0],
            "status": ["good", "good"],
        }
    )
    rows = [
        (0, "mill", 0, "state", None, None, 0, "Execute"),
        *[(50 * i + 49, "mill", 0, "produced", "A", "mill", 1, None) for i in range(20)],
    ]
    with HistoryStore(tmp_path / "h.duckdb") as store:
        store.record_run("sync", started_by="t", plant=plant, orders=[Order("A", "S", 20, 0, H)])
        store.add_actual_values(values)
        store.add_actual_events(_events(rows))
        mill = store.actual_kpis(0, 1000).set_index("station").loc["mill"]
    assert mill["produced"] == 20 and math.isnan(mill["scrapped"])
    assert math.isnan(mill["quality"]) and math.isnan(mill["oee"])
    assert mill["performance"] == pytest.approx(1.0) and mill["availability"] == 1.0
    assert "RejectCount" in mill["not_measured"]


def _demo_run(
    demo_plant: Plant, demo_orders: list[Order], hours: float
) -> tuple[FloorFeed, dict[str, float]]:
    feed = FloorFeed(demo_plant, seed=3)
    feed.run(list(demo_orders), hours * H)
    return feed, feed.floor.model.result(hours * H).kpis


def test_floor_kpis_match_the_simulators_own_kpis(tmp_path, demo_plant, demo_orders):
    """Two days of the demo floor: its tag values through sync's tracker into a history, with the
    order book recorded as the demo does. OEE per station equals the simulator's within 2 points;
    effectiveness never exceeds 100 % beyond the noise of random unit times."""
    feed, sim = _demo_run(demo_plant, demo_orders, 48)
    with HistoryStore(tmp_path / "h.duckdb") as store:
        feed.record(store, orders=list(demo_orders))
        out = store.actual_kpis(0, 48 * H).set_index("station")
    result = feed.floor.model.result(48 * H)
    for station in out.index:
        row = out.loc[station]
        assert row["not_measured"] == "", station
        assert row["produced"] == result.elements[station].pq, station  # counters, exactly
        assert row["oee"] == pytest.approx(sim[f"oee.{station}"], abs=0.02), station
        assert row["performance"] <= 1.02, station


def test_floor_kpis_without_an_order_book(tmp_path, demo_plant, demo_orders):
    """A plain sync history: ideal times from the plant file, products inferred from routings.
    Where an order in progress could still be several products, the station says so."""
    feed, sim = _demo_run(demo_plant, demo_orders, 48)
    with HistoryStore(tmp_path / "h.duckdb") as store:
        feed.record(store)
        out = store.actual_kpis(0, 48 * H).set_index("station")
    measured = out[out["performance"].notna()]
    assert len(measured) >= 8  # of 11 stations
    for station, row in measured.iterrows():
        assert row["performance"] <= 1.02, station
        assert row["oee"] == pytest.approx(sim[f"oee.{station}"], abs=0.08), station
    for _, row in out[out["performance"].isna()].iterrows():
        assert "no ideal time" in row["not_measured"]


def test_history_kpis_json_contract(tmp_path, plant):
    rows = [
        (0, "mill", 0, "state", None, None, 0, "Execute"),
        *[(50 * (i + 1), "mill", 0, "produced", "A", "mill", 1, None) for i in range(20)],
        (1000, "mill", 0, "scrapped", "A", "mill", 1, None),
        (1050, "mill", 0, "state", None, None, 0, "Idle"),
    ]
    db = str(tmp_path / "h.duckdb")
    with HistoryStore(db) as store:
        store.record_run("sync", started_by="t", plant=plant, orders=[Order("A", "S", 21, 0, H)])
        store.add_actual_events(_events(rows))
    res = runner.invoke(app, ["history", "kpis", "--db", db, "--since", "0", "--until", "2100", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    mill = next(r for r in payload["stations"] if r["station"] == "mill")
    for key in ("produced", "scrapped", "availability", "performance", "quality", "oee"):
        assert key in mill
    assert (mill["produced"], mill["scrapped"]) == (21, 1)
    assert mill["availability"] == pytest.approx(1050 / 2100) and mill["APT"] == 1050
    assert mill["PBT"] == 2100 and mill["performance"] == pytest.approx(21 * 50 / 1050)
    assert mill["quality"] == pytest.approx(20 / 21) and mill["not_measured"] == []
    saw = next(r for r in payload["stations"] if r["station"] == "saw")
    assert saw["availability"] is None and saw["oee"] is None and saw["not_measured"]
    res = runner.invoke(app, ["history", "kpis", "--db", db, "--by", "shift", "--json"])
    assert res.exit_code == 0, res.output
    assert {"shift", "shift_start", "shift_end"} <= set(json.loads(res.stdout)["stations"][0])
    res = runner.invoke(app, ["history", "kpis", "--db", db])
    assert res.exit_code == 0 and "mill" in res.stdout


def test_history_kpis_user_errors_exit_2(tmp_path, plant):
    db = str(tmp_path / "h.duckdb")
    with HistoryStore(db) as store:
        store.record_run("sync", started_by="t", plant=plant)
    for args in (["--by", "line"], ["--since", "2h", "--until", "1h"], ["--since", "yesterday"]):
        res = runner.invoke(app, ["history", "kpis", "--db", db, *args])
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output


def test_a_batch_across_a_shift_change_counts_where_it_runs(tmp_path):
    shifts = (
        "calendars:\n  two:\n    shifts:\n"
        '      - {name: early, days: mon-fri, start: "06:00", end: "14:00"}\n'
        '      - {name: late, days: mon-fri, start: "14:00", end: "22:00"}\nlines:'
    )
    text = PLANT.replace("lines:", shifts).replace(
        "  - id: L\n    stations:", "  - id: L\n    calendar: two\n    stations:"
    )
    plant = plant_from_text(text, "shifts.yaml")[0]
    start = 14 * H - 300  # 13:55: 5 of the 10 batch minutes before 14:00, 5 after, then 40 x 15 s
    rows = [
        (start, "wash", 0, "order_started", "S1", "wash", 0, None),
        (start, "wash", 0, "state", None, None, 0, "Execute"),
        *[(start + 600 + 15 * (i + 1), "wash", 0, "produced", "S1", "wash", 1, None) for i in range(40)],
        (start + 1200, "wash", 0, "state", None, None, 0, "Idle"),
    ]
    with HistoryStore(tmp_path / "h.duckdb") as store:
        store.record_run("sync", started_by="t", plant=plant, orders=[Order("S1", "S", 40, 0, 20 * H)])
        store.add_actual_events(_events(rows))
        out = store.actual_kpis(6 * H, 22 * H, by="shift").set_index(["station", "shift"])
    early, late = out.loc[("wash", "2026-11-30 early")], out.loc[("wash", "2026-11-30 late")]
    assert early["planned_run_time"] == pytest.approx(300) and early["performance"] == pytest.approx(1.0)
    assert late["planned_run_time"] == pytest.approx(300 + 40 * 15) and late["performance"] == pytest.approx(
        1.0
    )
