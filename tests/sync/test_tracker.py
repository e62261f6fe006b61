"""LiveTracker: counters reconciled from cumulative values, bad values recorded and never used."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from sync.sink import BatchWriter
from sync.tags import Tag
from sync.tracker import COUNTER_RESET, GOOD, NAN, OUT_OF_ORDER, WRONG_TYPE, LiveTracker, Reading
from twin.errors import HistoryError
from twin.history.counters import session_resume
from twin.history.store import HistoryStore
from twin.plant import Plant
from twin.states import MachineState

BAD_SENSOR = 0x808B0000  # BadSensorFailure (severity bits 10)
UNCERTAIN = 0x40000000


def _reading(plant: Plant, tag: str, value: object, t: float, status: int = 0, name: str = "Good") -> Reading:
    return Reading(
        tag=Tag("mill", tag, f"ref:{tag}"),
        node_id=f"ref:{tag}",
        value=value,
        status_code=status,
        status_name=name,
        source_time=plant.epoch + timedelta(seconds=t),
    )


def test_parts_come_from_counter_deltas_not_from_notifications(cell: Plant) -> None:
    tr = LiveTracker(cell)
    tr.ingest(_reading(cell, "good_count", 10, 0.0))  # baseline: made before sync watched
    out = tr.ingest(_reading(cell, "good_count", 17, 60.0))  # 7 parts, one notification
    tr.ingest(_reading(cell, "good_count", 17, 61.0))
    assert tr.produced("mill") == 7
    assert [(e["kind"], e["quantity"]) for e in out.events] == [("produced", 7)]
    assert tr.live.stations["mill"].good_count == 7
    assert out.row["time"] == 60.0


def test_counter_going_down_is_a_reset_counted_from_zero(cell: Plant) -> None:
    tr = LiveTracker(cell, baselines={("mill", "good_count"): 0})
    tr.ingest(_reading(cell, "good_count", 20, 10.0))
    tr.new_server_life()
    out = tr.ingest(_reading(cell, "good_count", 3, 5.0))  # restarted: clock and counter start over
    assert out.row["status"] == COUNTER_RESET
    assert tr.produced("mill") == 23
    assert tr.lost_unknown == {("mill", "good_count"): 1}


def test_bad_status_wrong_type_nan_and_old_values_are_recorded_not_used(cell: Plant) -> None:
    tr = LiveTracker(cell, baselines={("mill", "good_count"): 0})
    tr.ingest(_reading(cell, "pv:temp", 40.5, 100.0))
    tr.ingest(_reading(cell, "good_count", 4, 100.0))
    rows = [
        tr.ingest(_reading(cell, "good_count", 9, 110.0, BAD_SENSOR, "BadSensorFailure")).row,
        tr.ingest(_reading(cell, "good_count", 9, 111.0, UNCERTAIN, "Uncertain")).row,
        tr.ingest(_reading(cell, "good_count", 9.5, 112.0)).row,
        tr.ingest(_reading(cell, "good_count", True, 112.0)).row,
        tr.ingest(_reading(cell, "pv:temp", math.nan, 113.0)).row,
        tr.ingest(_reading(cell, "pv:temp", "hot", 114.0)).row,
        tr.ingest(_reading(cell, "state", "Exploding", 115.0)).row,
        tr.ingest(_reading(cell, "state", 3, 115.0)).row,
        tr.ingest(_reading(cell, "good_count", 6, 50.0)).row,
    ]
    assert [r["status"] for r in rows] == [
        "bad:BadSensorFailure",
        "uncertain:Uncertain",
        WRONG_TYPE,
        WRONG_TYPE,
        NAN,
        WRONG_TYPE,
        WRONG_TYPE,
        WRONG_TYPE,
        OUT_OF_ORDER,
    ]
    assert rows[0]["status_code"] == BAD_SENSOR and rows[0]["value"] == 9.0
    assert rows[5]["value_text"] == "hot" and math.isnan(rows[5]["value"])
    live = tr.live.stations["mill"]
    assert tr.produced("mill") == 4 and live.good_count == 4
    assert live.process_values == {"temp": 40.5}
    assert live.state == MachineState.IDLE
    assert live.last_heard == 100.0
    later = tr.ingest(_reading(cell, "good_count", 6, 120.0))
    assert later.row["status"] == GOOD and tr.produced("mill") == 6


def test_states_orders_and_staleness(cell: Plant) -> None:
    tr = LiveTracker(cell)
    tr.mark_fresh()
    tr.ingest(_reading(cell, "current_order", "O1", 5.0))
    tr.ingest(_reading(cell, "current_operation", "mill", 5.0))
    out = tr.ingest(_reading(cell, "state", "Execute", 6.0))
    assert [e["kind"] for e in out.events] == ["state"] and out.events[0]["order_id"] == "O1"
    out = tr.ingest(_reading(cell, "current_order", "O2", 90.0))
    assert [e["kind"] for e in out.events] == ["order_finished", "order_started"]
    assert [e["order_id"] for e in out.events] == ["O1", "O2"]
    live = tr.live
    assert live.stations["mill"].state == MachineState.EXECUTE and live.stations["mill"].since == 6.0
    assert not live.stale and live.time == 90.0
    tr.mark_stale()
    assert tr.live.stale and tr.live.last_good == 90.0


def test_a_session_resumed_from_the_history_counts_parts_made_while_down_once(
    cell: Plant, tmp_path: Path
) -> None:
    """Session 1 writes through a BatchWriter to a DuckDB file; session 2 resumes from what the file
    holds: the parts made in between are counted at its first value, none twice, and an unchanged
    state or order adds no event."""
    with HistoryStore(tmp_path / "h.duckdb") as store:
        writer = BatchWriter(store)
        first = LiveTracker(cell)
        for r in (
            _reading(cell, "good_count", 5, 0.0),  # baseline
            _reading(cell, "state", "Execute", 0.0),
            _reading(cell, "current_order", "SO-1", 0.0),
            _reading(cell, "good_count", 12, 30.0),
            _reading(cell, "reject_count", 2, 30.0),
        ):
            out = first.ingest(r)
            writer.add(out.row, out.events)
        writer.add(first.server_start_row(cell.epoch, "i=2257"), [])
        writer.flush()
        resume = session_resume(store)
        assert resume.counters == {("mill", "good_count"): 12, ("mill", "reject_count"): 2}
        assert resume.server_start == cell.epoch
        second = LiveTracker.resume(cell, resume.values)
        events = [e for r in (
            _reading(cell, "state", "Execute", 90.0),
            _reading(cell, "current_order", "SO-1", 90.0),
            _reading(cell, "good_count", 20, 90.0),  # 8 made while sync was down
            _reading(cell, "reject_count", 2, 90.0),
        ) for e in second.ingest(r).events]  # fmt: skip
    assert [(e["kind"], e["quantity"]) for e in events] == [("produced", 8)]
    assert first.produced("mill") + second.produced("mill") == 20 - 5
    assert second.live.stations["mill"].current_order == "SO-1"


def test_a_flush_is_one_transaction(cell: Plant, tmp_path: Path) -> None:
    """Values and the events derived from them are stored together or not at all."""

    class Failing(HistoryStore):
        def add_actual_events(self, frame: object) -> int:
            raise HistoryError("disk full")

    with Failing(tmp_path / "h.duckdb") as store:
        writer = BatchWriter(store)
        tr = LiveTracker(cell, baselines={("mill", "good_count"): 0})
        out = tr.ingest(_reading(cell, "good_count", 3, 1.0))
        writer.add(out.row, out.events)
        with pytest.raises(HistoryError):
            writer.flush()
        assert session_resume(store).counters == {}  # the counter value was rolled back too
