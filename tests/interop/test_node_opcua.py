"""plantwin's sync against an OPC UA server of another stack (node-opcua), laid out as a machine
builder would: tags by browse path and by a per-tag namespace URI, job responses, exact counts
across a kill -9 and restart of the server, and a secured session with a user."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sync.client import SyncClient
from sync.livestate import LiveView
from sync.security import Credentials, Security, make_certificate
from twin.errors import SyncError
from twin.plant import Plant
from twin.states import MachineState

PARTS, DEFECT_EVERY = 30, 7
GOOD, BAD = PARTS - PARTS // DEFECT_EVERY, PARTS // DEFECT_EVERY


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _state(view: LiveView, job_id: str) -> str | None:
    r = view.responses.responses.get(job_id)
    return r.state if r is not None else None


def _counts(client: SyncClient) -> dict[str, tuple[int, int]]:
    t = client.tracker
    return {s: (t.produced(s), t.scrapped(s)) for s in ("press", "lathe")}


async def test_sync_and_job_responses_by_browse_path(acme: Plant, machine_server, tmp_path: Path) -> None:
    go = tmp_path / "go"
    server = machine_server("--go", str(go), "--parts", str(PARTS), "--cycle-ms", "40")
    view = LiveView(acme)
    async with SyncClient(acme, server.endpoint, watchers=view.watchers) as client:
        assert _counts(client) == {"press": (0, 0), "lathe": (0, 0)}
        go.touch()
        press_runs = lambda: client.live.stations["press"].state == MachineState.EXECUTE  # noqa: E731
        await _until(press_runs, 10, "press Execute")
        await _until(lambda: _counts(client) == {"press": (GOOD, BAD), "lathe": (GOOD, BAD)}, 20, "parts")
        await _until(lambda: _state(view, "SO-1/1") == "Ended", 10, "job responses")
        live = view.build(client.live)
        press = live.stations["press"]
        assert press.state == MachineState.IDLE and press.last_cycle_time == 0.04
        assert 40.0 < press.process_values["spindle_temp"] < 41.0  # the vendor namespace, by URI
        r = await view.responses.by_id(client.ua_client, "SO-1/0")
        assert (r.state, r.station, r.good, r.scrapped, r.planned) == ("Ended", "press", GOOD, BAD, PARTS)
        assert r.start is not None and r.end is not None and r.end > r.start
        ended = await view.responses.by_id_and_state(client.ua_client, "SO-1/1", ["Ended"])
        assert [x.job_id for x in ended] == ["SO-1/1"]
    assert live.completed == frozenset({("SO-1", 0), ("SO-1", 1)}) and not live.in_progress
    assert client.tracker.status_counts.get("good", 0) > 0
    assert not client.tracker.lost_unknown


async def test_exact_counts_across_a_server_kill_and_restart(
    acme: Plant, machine_server, tmp_path: Path
) -> None:
    go, state = tmp_path / "go", tmp_path / "retentive.json"
    args = ("--go", str(go), "--state", str(state), "--parts", str(PARTS), "--cycle-ms", "60")
    server = machine_server(*args)
    view = LiveView(acme)
    async with SyncClient(acme, server.endpoint, watchers=view.watchers, reconnect_max_delay=1.0) as client:
        go.touch()
        await _until(lambda: _counts(client)["press"][0] >= 5, 10, "some parts before the kill")
        server.kill()
        before = json.loads(state.read_text())["counts"]["Press7"][0]
        assert 5 <= before < PARTS, "killed mid-run"
        await _until(lambda: not client.connected, 10, "the client to notice the loss")
        server.start()  # same port, same retentive state: it counts on from where it stopped
        await _until(lambda: client.connected, 30, "the reconnect")
        await _until(lambda: _counts(client) == {"press": (GOOD, BAD), "lathe": (GOOD, BAD)}, 30, "parts")
        await _until(lambda: _state(view, "SO-1/0") == "Ended", 10, "responses after reconnect")
        assert client.reconnects >= 1
    # every part counted exactly once: the server's own retentive counters say so
    final = json.loads(state.read_text())["counts"]
    assert final == {"Press7": [PARTS, BAD], "Lathe3": [PARTS, BAD]}
    assert not client.tracker.lost_unknown


async def test_secured_session_with_a_user(acme: Plant, machine_server, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    server = machine_server("--pki", str(pki), "--user", "operator:s3cret", "--parts", "3")
    cert, key = tmp_path / "client.der", tmp_path / "client.pem"
    make_certificate(cert, key, "urn:plantwin:sync:interop", server=False)
    trust = tmp_path / "trust"
    trust.mkdir()
    sec = Security("Basic256Sha256", "SignAndEncrypt", cert, key, trust=trust)
    user = Credentials("operator", "s3cret")
    # first contact: the other stack's certificate is not trusted yet, so no session (no password)
    with pytest.raises(SyncError, match="SHA-256"):
        async with SyncClient(acme, server.endpoint, security=sec, credentials=user):
            pass
    (rejected,) = (trust / "rejected").iterdir()
    rejected.rename(trust / rejected.name)  # what the message tells the user to do
    async with SyncClient(acme, server.endpoint, security=sec, credentials=user) as client:
        assert client.connected and client.live.stations["press"].last_heard is not None
        endpoints = await client.ua_client.get_endpoints()
    assert {e.SecurityPolicyUri.rsplit("#", 1)[-1] for e in endpoints} == {"Basic256Sha256"}
