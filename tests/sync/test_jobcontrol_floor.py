"""Job control over OPC UA on the virtual plant: what each method does to the floor, the spec's
return codes for unknown jobs and wrong states, and the client's message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sync.client import SyncClient
from sync.joborders import Job, JobControlError, JobOrderClient, JobState, Method, Status
from sync.jobresponses import JobResponseError
from sync.livestate import LiveView
from sync.virtual.server import VirtualPlant
from twin.loader import plant_from_text
from twin.plant import Plant
from twin.states import MachineState

PLANT = """
name: jobctl
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:jobctl"}
lines:
  - id: L
    stations:
      - {id: saw, machines: 2}
      - {id: pack}
products:
  - id: P
    routing:
      - {id: cut, stations: saw, time: 30}
      - {id: box, stations: pack, time: 1}
"""


@pytest.fixture(scope="module")
def plant() -> Plant:
    p, _ = plant_from_text(PLANT, "jobctl.yaml")
    return p


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _job(order: str, machine: int = 0, qty: int = 40) -> Job:
    return Job(f"{order}/0", order, "P", 0, "cut", "saw", machine, qty)


async def test_job_control_on_the_floor(plant: Plant, shelf: Path) -> None:
    view = LiveView(plant)
    jobs = JobOrderClient.for_plant(plant)
    async with (
        VirtualPlant(plant, port=0, speed=150, seed=1, shelf=shelf) as vp,  # a unit: 0.2 s
        SyncClient(plant, vp.endpoint, watchers=view.watchers) as client,
    ):
        ua_client = client.ua_client
        state = vp.jobs.states

        def response(job_id: str):
            return view.responses.responses.get(job_id)

        # Store -> NotAllowedToStart; nothing runs; Pause/RevokeStart refused there
        a = _job("A")
        await jobs.command(ua_client, Method.STORE, a)
        assert state["A/0"] == JobState.NOT_ALLOWED_TO_START
        with pytest.raises(JobControlError, match=r"Pause A/0: refused .* ReturnStatus 8 \(INVALID_STATE"):
            await jobs.command(ua_client, Method.PAUSE, "A/0")
        assert await jobs.revoke_start(ua_client, "A/0") == Status.INVALID_STATE
        # Start -> AllowedToStart -> the machine picks it: Running, units counted
        await jobs.command(ua_client, Method.START, "A/0")
        await _until(
            lambda: (r := response("A/0")) is not None and r.state == "Running" and r.good >= 2,
            10,
            "A running",
        )
        # Pause -> Interrupted: the machine holds (Held) and makes nothing more
        await jobs.command(ua_client, Method.PAUSE, "A/0")
        await _until(lambda: response("A/0").state == "Interrupted", 5, "A interrupted")
        await _until(lambda: client.live.stations["saw"].state == MachineState.HELD, 5, "saw Held")
        held = response("A/0").good
        await asyncio.sleep(1.0)  # five unit times
        assert response("A/0").good == held and vp.floor.model.stations["saw"].machines[0].done == held
        assert await jobs.resume(ua_client, "A/0") == Status.OK
        await _until(lambda: response("A/0").good > held, 5, "A going on after Resume")
        # Stop -> Ended with what was made; the lot goes on short
        await jobs.command(ua_client, Method.STOP, "A/0")
        assert state["A/0"] == JobState.ENDED
        await _until(lambda: response("A/0").end is not None, 5, "A's operation ended")
        made = response("A/0").good
        assert 0 < made < 40
        await _until(lambda: vp.floor.model.orders["A"].good == made, 10, "A packed short, all it has")
        assert await jobs.clear(ua_client, "A/0") == Status.OK and "A/0" not in state

        # C runs on machine 0; B waits behind it: RevokeStart, Update (to machine 1), Cancel, Clear
        c, b = _job("C"), _job("B")
        await jobs.command(ua_client, Method.STORE_AND_START, c)
        await _until(lambda: state["C/0"] == JobState.RUNNING, 5, "C running")
        await jobs.command(ua_client, Method.STORE_AND_START, b)
        assert state["B/0"] == JobState.ALLOWED_TO_START
        await jobs.command(ua_client, Method.REVOKE_START, "B/0")
        assert state["B/0"] == JobState.NOT_ALLOWED_TO_START
        await jobs.command(ua_client, Method.START, "B/0")
        with pytest.raises(JobControlError, match="UNKNOWN_EQUIPMENT"):
            await jobs.command(ua_client, Method.UPDATE, _job("B", machine=7))
        await jobs.command(ua_client, Method.UPDATE, _job("B", machine=1))  # moved to the free machine
        await _until(lambda: state["B/0"] == JobState.RUNNING, 5, "B running on machine 1 after Update")
        await _until(
            lambda: response("B/0") is not None and response("B/0").machine == 1, 5, "B on machine 1"
        )
        with pytest.raises(JobControlError, match=r"Cancel B/0.*INVALID_STATE"):
            await jobs.command(ua_client, Method.CANCEL, "B/0")  # too late: it runs
        await jobs.command(ua_client, Method.ABORT, "B/0")
        assert state["B/0"] == JobState.ABORTED
        await _until(
            lambda: response("B/0").state == "Aborted" and response("B/0").end is not None, 5, "B aborted"
        )
        await _until(lambda: vp.floor.model.orders["B"].open_lots == 0, 5, "B's lot ended at the abort")
        assert vp.floor.model.orders["B"].good == 0  # nothing handed on
        # a not-started job: Cancel then Clear
        d = _job("D")
        await jobs.command(ua_client, Method.STORE_AND_START, d)  # behind C on machine 0
        await jobs.command(ua_client, Method.CANCEL, "D/0")
        assert state["D/0"] == JobState.ABORTED
        with pytest.raises(JobControlError, match="Resume D/0"):
            await jobs.command(ua_client, Method.RESUME, "D/0")
        await jobs.command(ua_client, Method.CLEAR, "D/0")
        # unknown job orders: bit 1 of ReturnStatus, and a clear message
        with pytest.raises(
            JobControlError, match=r"Start nope: refused .* ReturnStatus 2 \(UNKNOWN_JOB_ORDER"
        ):
            await jobs.command(ua_client, Method.START, "nope")
        # the response provider's methods
        by_id = await view.responses.by_id(ua_client, "C/0")
        assert by_id.state in ("Running", "Ended") and by_id.station == "saw"
        assert [r.job_id for r in await view.responses.by_id_and_state(ua_client, "B/0", ["Aborted"])] == [
            "B/0"
        ]
        assert await view.responses.by_id_and_state(ua_client, "B/0", ["Running"]) == []
        with pytest.raises(JobResponseError, match="UNKNOWN_JOB_ORDER"):
            await view.responses.by_id(ua_client, "nope")


async def test_a_revised_plan_updates_and_revokes_what_has_not_started(plant: Plant, shelf: Path) -> None:
    from sync.dispatch import DispatchResult, DispatchService

    jobs = JobOrderClient.for_plant(plant)
    async with (
        VirtualPlant(plant, port=0, speed=150, seed=1, shelf=shelf) as vp,
        SyncClient(plant, vp.endpoint) as client,
    ):
        first = DispatchResult("plan-1", "v1")
        await DispatchService._send(client.ua_client, jobs, [_job("A"), _job("B"), _job("C")], first)
        assert first.sent == ["A/0", "B/0", "C/0"]
        await _until(lambda: vp.jobs.states["A/0"] == JobState.RUNNING, 5, "A running, B and C behind it")
        second = DispatchResult("plan-2", "v2")
        revised = [_job("A"), _job("B", machine=1), _job("D")]  # B moves, C is dropped, D is new
        await DispatchService._send(client.ua_client, jobs, revised, second)
        assert (second.sent, second.updated, second.revoked, second.kept) == (
            ["D/0"],
            ["B/0"],
            ["C/0"],
            ["A/0"],
        )
        assert vp.jobs.states["C/0"] == JobState.NOT_ALLOWED_TO_START
        assert vp.jobs.jobs["B/0"].machine == 1
        await _until(lambda: vp.jobs.states["B/0"] == JobState.RUNNING, 5, "B started on the free machine")
        # C stays held: revoked work is not started by the floor
        await asyncio.sleep(0.5)
        assert vp.jobs.states["C/0"] == JobState.NOT_ALLOWED_TO_START
        # the same plan again changes nothing but C, which it wants again
        third = DispatchResult("plan-3", "v3")
        await DispatchService._send(client.ua_client, jobs, [*revised, _job("C")], third)
        assert third.sent == [] and third.updated == ["C/0"] and not third.refused
        assert vp.jobs.states["C/0"] == JobState.ALLOWED_TO_START
