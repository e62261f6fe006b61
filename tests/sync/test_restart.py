"""Freeze the virtual plant (a subprocess) with SIGSTOP, then kill -9 it mid-run and start it again:
sync notices both in seconds, and after reconnection the totals it counted are exactly what the
plant made."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from sync.client import SyncClient
from sync.sink import MemorySink
from sync.tracker import LiveTracker
from twin.errors import SyncError
from twin.plant import Plant

pytestmark = pytest.mark.timeout(90)
HOURS = 2.0  # order stream of the M/M/1 sample: about 120 parts
SPEED = 1500.0


SERVER = """
import asyncio, sys
from pathlib import Path
from typing import IO
from sync.virtual.server import VirtualPlant
from twin.loader import load_plant
from twin.orders import generate_orders
from twin.samples import sample_path

async def main(port, state, speed, hours, shelf):
    plant, _ = load_plant(sample_path("single"))
    feed = generate_orders(plant.order_stream, hours * 3600.0, seed=1)
    vp = VirtualPlant(plant, port=port, speed=speed, state_path=Path(state), feed=feed, shelf=Path(shelf))
    async with vp:
        await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]))
"""


def _start(port: int, state: Path, log: IO[bytes], shelf: Path) -> subprocess.Popen[bytes]:
    """The virtual plant in its own process (what `plantwin virtual-plant single --feed --state F`
    runs, without the CLI's imports, to start fast on a busy machine)."""
    cmd = [sys.executable, "-c", SERVER, str(port), str(state), str(SPEED), str(HOURS), str(shelf)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)


async def _connect(client: SyncClient, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            await client.connect()
            return
        except SyncError:
            if time.monotonic() > end or proc.poll() is not None:
                raise
            await asyncio.sleep(0.2)


def _made(state: Path) -> int:
    return int(json.loads(state.read_text())["counts"]["server"][0])


async def test_kill_and_restart_the_server_totals_stay_exact(
    sample_plant, tmp_path: Path, port: int, shelf: Path
) -> None:
    plant: Plant = sample_plant("single")
    state, log_path = tmp_path / "plant-state.json", tmp_path / "virtual-plant.log"
    log = log_path.open("ab")
    sink = MemorySink()
    # a fresh plant: its counters start at zero, so count from zero (not from the first value seen)
    tracker = LiveTracker(plant, baselines={("server", "good_count"): 0, ("server", "reject_count"): 0})
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    client = SyncClient(plant, endpoint, sink=sink, tracker=tracker, reconnect_max_delay=1.0)
    first = _start(port, state, log, shelf)
    second: subprocess.Popen[bytes] | None = None
    try:
        await _connect(client, first)
        while client.tracker.produced("server") < 15:  # some parts counted before the crash
            assert first.poll() is None, log_path.read_text()
            await asyncio.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = _made(state)
        t0 = time.monotonic()
        while not client.live.stale:
            assert time.monotonic() - t0 < 5, "sync did not notice the dead server within 5 s"
            await asyncio.sleep(0.05)
        assert client.live.last_good is not None
        await asyncio.sleep(1.0)  # down for a while (the plant is down too: nothing made meanwhile)
        second = _start(port, state, log, shelf)
        t0 = time.monotonic()
        while _made(state) < killed_at + 10 or client.reconnects < 1 or client.live.stale:
            assert second.poll() is None, log_path.read_text()
            assert time.monotonic() - t0 < 30, "no production or no reconnection after the restart"
            await asyncio.sleep(0.1)
        # a silent server (frozen, socket still open) is noticed by probe and keep-alive, in seconds;
        # once woken, the plant catches up on its clock at once
        second.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        while not client.live.stale:
            assert time.monotonic() - t0 < 15, "sync did not notice a silent server within 15 s"
            await asyncio.sleep(0.05)
        silent_noticed = time.monotonic() - t0
        second.send_signal(signal.SIGCONT)
        end_time = HOURS * 3600
        while True:  # until the plant has worked its order stream off and sync has caught up
            await asyncio.sleep(0.2)
            assert second.poll() is None, log_path.read_text()
            assert time.monotonic() - t0 < 45, (
                f"no catch-up: made {_made(state)}, counted {client.tracker.produced('server')}"
            )
            data = json.loads(state.read_text())
            if (
                data["time"] > end_time + 1800
                and client.tracker.produced("server") == _made(state)
                and client.reconnects >= 2
                and not client.live.stale
            ):
                break
    finally:
        await client.disconnect()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
        log.close()
    made = _made(state)
    produced = sink.events.query("kind == 'produced'")
    assert silent_noticed < 10.0
    assert killed_at < made
    assert client.tracker.produced("server") == made
    assert int(produced.quantity.sum()) == made  # the history: each part once
    assert client.tracker.lost_unknown == {}  # retentive counters: no reset, nothing unknowable
