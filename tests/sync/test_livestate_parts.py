"""`live_from_floor`: job responses and station states become completed, in-progress, queued and
down work; JSON of job responses round-trips (no IO)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.jobresponses import JobResponse, responses_from_json, responses_to_json
from sync.livestate import live_from_floor
from twin.live import LiveState, StationLive
from twin.loader import plant_from_text
from twin.states import MachineState

PLANT = """
name: parts
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations: [{id: saw}, {id: drill, machines: 2}]
products:
  - id: P
    routing: [{id: cut, stations: saw, time: 10}, {id: bore, stations: drill, time: 10}]
"""


def test_responses_and_states_make_the_live_state() -> None:
    plant, _ = plant_from_text(PLANT, "parts.yaml")
    at = plant.epoch + timedelta(seconds=300)
    responses = [
        JobResponse("A/0", "Ended", "A", 0, "cut", "saw", 0, planned=5, good=5, start=at, end=at),
        JobResponse("A/1", "Running", "A", 1, "bore", "drill", 1, planned=5, good=2, scrapped=1, start=at),
        JobResponse("B/0", "Interrupted", "B", 0, "cut", "saw", 0, planned=4, good=1, start=at),
        JobResponse("C/0", "AllowedToStart", "C", 0, "cut", "saw", waiting_at="saw", planned=3),
        JobResponse("D/0", "NotAllowedToStart", "D", 0, "cut", "saw", 0, planned=3),  # upstream: not here
        JobResponse("E/0", "Aborted", "E", 0, "cut", "saw", 0, planned=3),
    ]
    tracked = LiveState(
        time=400.0,
        stations={
            "saw": StationLive("saw", MachineState.HELD, since=350.0),
            "drill": StationLive("drill", MachineState.ABORTED, since=380.0),
        },
    )
    live = live_from_floor(plant, tracked, responses, {"blank": 12.0})
    assert live.completed == frozenset({("A", 0)})
    assert [(p.key, p.station, p.machine, p.done_units, p.started) for p in live.in_progress] == [
        (("A", 1), "drill", 1, 3, 300.0),
        (("B", 0), "saw", 0, 1, 300.0),
    ]
    assert [(q.order_id, q.op_index, q.station) for q in live.queued] == [("C", 0, "saw")]
    assert live.down == {"drill/0": 380.0, "drill/1": 380.0}  # a station Aborted: its machines down
    assert live.stock == {"blank": 12.0} and live.time == 400.0


def test_job_response_json_round_trips_and_names_a_bad_entry() -> None:
    plant, _ = plant_from_text(PLANT, "parts.yaml")
    r = JobResponse(
        "A/1", "Running", "A", 1, "bore", "drill", 1, None, 5, 2, 1, plant.epoch, None, {"blank": 3.0}
    )
    assert responses_from_json(responses_to_json([r])) == [r]
    assert responses_from_json("") == []
    with pytest.raises(ValueError, match=r"JobOrderResponseList\[1\]"):
        responses_from_json(
            '[{"JobOrderID": "x", "JobState": "Ended", "OrderID": "x", "OperationIndex": 0}, {}]'
        )


def test_job_responses_are_recorded_and_the_latest_found(tmp_path) -> None:
    from twin.history import HistoryStore
    from twin.history.jobresponses import add_job_responses, latest_job_responses, response_row

    plant, _ = plant_from_text(PLANT, "parts.yaml")
    first = JobResponse("A/0", "Running", "A", 0, "cut", "saw", 0, planned=5, good=2, start=plant.epoch)
    later = JobResponse("A/0", "Ended", "A", 0, "cut", "saw", 0, planned=5, good=5, start=plant.epoch,
                        end=plant.epoch + timedelta(seconds=50), consumed={"blank": 5.0})  # fmt: skip
    other = JobResponse("B/0", "AllowedToStart", "B", 0, "cut", "saw", waiting_at="saw", planned=3)
    with HistoryStore(tmp_path / "h.duckdb") as store:
        assert add_job_responses(store, [response_row(10.0, first), response_row(10.0, other)]) == 2
        assert add_job_responses(store, [response_row(50.0, later)]) == 1
    with HistoryStore(tmp_path / "h.duckdb", read_only=True) as store:
        latest = latest_job_responses(store)
    assert list(latest["job_id"]) == ["A/0", "B/0"]
    a = latest.iloc[0]
    assert (a["state"], a["good"], a["time"], a["consumed"]) == ("Ended", 5, 50.0, '{"blank": 5.0}')
    assert latest.iloc[1]["waiting_at"] == "saw"
