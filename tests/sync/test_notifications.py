"""How values travel from asyncua to the history: a bounded notification queue that never drops
silently (a client that falls behind reconnects, and its counts stay exact), and a history writer
on its own thread whose failure ends the session instead of being lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sync.client as sync_client
from sync.client import SyncClient
from sync.joborders import Job
from sync.sink import BatchWriter, MemorySink
from sync.tracker import LiveTracker
from sync.virtual.server import VirtualPlant
from twin.errors import HistoryError
from twin.loader import plant_from_text

pytestmark = pytest.mark.timeout(90)
PRESS = """
name: press
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:press"}
lines:
  - id: L
    stations:
      - id: press
products:
  - id: P
    routing: [{id: press, stations: press, time: 20}]
"""


class FailingSink(MemorySink):
    """A history whose `fail_at`-th transaction (1-based) fails, as a full disk would."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.transactions = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        self.transactions += 1
        if self.transactions == self.fail_at:
            raise HistoryError("history.duckdb: disk full")
        yield self


def _row(i: int) -> dict[str, Any]:
    return {
        "time": float(i),
        "source_time": None,
        "server_time": None,
        "node_id": f"n{i}",
        "station": "press",
        "tag": "good_count",
        "value": float(i),
        "value_text": str(i),
        "status_code": 0,
        "status": "good",
    }


def test_background_writer_keeps_order_and_raises_a_failed_write() -> None:
    sink = FailingSink(fail_at=3)
    writer = BatchWriter(sink, max_rows=2, max_age=1e9, background=True)
    for i in range(4):
        writer.add(_row(i), [])  # two batches, handed to the writer thread
    writer.flush()
    assert list(sink.values.time) == [0.0, 1.0, 2.0, 3.0]  # in order, all of them
    for i in range(4, 8):
        writer.add(_row(i), [])  # the third batch fails, the fourth must not be stored after it
    with pytest.raises(HistoryError, match="disk full"):
        writer.flush()
    assert list(sink.values.time) == [0.0, 1.0, 2.0, 3.0]  # a prefix of what came: resume stays exact
    assert writer.values_written == 4 and isinstance(writer.error, HistoryError)
    with pytest.raises(HistoryError):
        writer.maybe_flush()
    writer._background = False  # close() must not hang on the failed writer: it raises again
    with pytest.raises(HistoryError):
        writer.close()


def test_foreground_writer_raises_at_once_and_keeps_the_rows_it_could_not_write() -> None:
    sink = FailingSink(fail_at=1)
    writer = BatchWriter(sink, max_rows=10, max_age=1e9)
    writer.add(_row(0), [])
    with pytest.raises(HistoryError):
        writer.flush()
    assert sink.value_frames == []


async def test_a_client_that_falls_behind_reconnects_and_counts_stay_exact(
    shelf: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue bound of 2 overflows at the subscription's first publish (one initial value per
    tag): the client must not drop values silently but reconnect (re-reading every tag), and the
    parts made afterwards are counted exactly."""
    plant, _ = plant_from_text(PRESS, "press.yaml")
    monkeypatch.setattr(sync_client, "QUEUE_BOUND", 2)
    caplog.set_level(logging.WARNING, logger="sync")
    tracker = LiveTracker(plant, baselines={("press", "good_count"): 0, ("press", "reject_count"): 0})
    async with VirtualPlant(plant, port=0, speed=3000, shelf=shelf) as vp:
        client = SyncClient(plant, vp.endpoint, sink=MemorySink(), tracker=tracker, batch_age=0.1)
        overflowed = client._overflowed

        def once() -> None:  # the next subscription gets the normal bound
            monkeypatch.setattr(sync_client, "QUEUE_BOUND", 200_000)
            overflowed()

        client._overflowed = once  # type: ignore[method-assign]
        async with client:
            end = time.monotonic() + 30
            while client.reconnects < 1:
                assert time.monotonic() < end, "the overflow did not lead to a reconnect"
                await asyncio.sleep(0.05)
            assert vp.floor is not None
            vp.floor.submit(Job("J", "J", "P", 0, "press", "press", 0, 12))
            while client.tracker.produced("press") < 12:
                assert time.monotonic() < end, "the parts were not counted after the reconnect"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # nothing more may arrive: 12 exactly, never twice
            assert client.tracker.produced("press") == 12
    lines = [r.getMessage() for r in caplog.records if r.name == "sync.client"]
    assert any("fell 2 notifications behind" in line for line in lines), lines


async def test_a_failing_history_ends_the_session_with_its_error(shelf: Path) -> None:
    plant, _ = plant_from_text(PRESS, "press.yaml")
    sink = FailingSink(fail_at=2)
    async with VirtualPlant(plant, port=0, speed=3000, shelf=shelf) as vp:
        client = SyncClient(plant, vp.endpoint, sink=sink, batch_rows=1, batch_age=0.05)
        await client.connect()
        try:
            assert vp.floor is not None
            vp.floor.submit(Job("J", "J", "P", 0, "press", "press", 0, 50))
            t0 = time.monotonic()
            with pytest.raises(HistoryError, match="disk full"):
                await client.run(30.0, status_every=5.0)
            assert time.monotonic() - t0 < 5.0  # at once, not at the end of the session
        finally:
            with pytest.raises(HistoryError):
                await client.disconnect()  # the final flush says it too; the session is closed
        assert client._client is None
