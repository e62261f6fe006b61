"""The live state from what the floor publishes over OPC UA, and nothing else.

Three sources, all read through the sync client (subscription plus a read after every reconnect):

- the station tags (`sync.tracker.LiveTracker`): state since when, counters, current order;
- the job responses (`sync.jobresponses`): per operation Ended -> completed; Running or
  Interrupted -> in progress on its equipment, units done = good + scrapped so far, started at
  its actual start; not started with `WaitingAt` -> queued at that station;
- the stock levels (one tag per material, `Material.tag`, default 'nsu=URI;s=Stock.<id>').

A station whose state is Aborted (a breakdown) has its machines down since the state's time;
Maintenance is planned (the simulator takes it from the calendar) and is not a breakdown.

    view = LiveView(plant)
    client = SyncClient(plant, endpoint, watchers=view.watchers)
    ...
    live = view.build(client.live)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from asyncua import Client, ua

from sync.joborders import ACTIVE, JobState
from sync.jobresponses import RESULTS, JobResponse, JobResponseWatcher
from sync.noderefs import resolve_ref
from twin.errors import HistoryError, SyncError
from twin.history.jobresponses import add_job_responses, response_row
from twin.live import LiveState, OperationProgress, QueuedLot
from twin.plant import Plant
from twin.states import MachineState

log = logging.getLogger(__name__)

DOWN_STATES = frozenset({MachineState.ABORTED})
RECORD_EVERY = 1.0
"""Seconds between two writes of changed job responses to the history (rows are batched)."""


class StockWatcher:
    """The stock level of every material of the plant, from its stock tag."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self.stock: dict[str, float] = {}
        self._material: dict[ua.NodeId, str] = {}
        self.bad_values = 0
        self._warned: set[str] = set()

    async def resolve(self, client: Client) -> list[ua.NodeId]:
        self._material.clear()
        for m in self.plant.materials:
            ref = self.plant.stock_tag(m.id)
            try:
                self._material[await resolve_ref(client, ref, self.plant.opcua.namespace_uri)] = m.id
            except SyncError as exc:
                if m.id not in self._warned:
                    log.warning("stock of %s: %s (not tracked)", m.id, exc)
                    self._warned.add(m.id)
        return list(self._material)

    def on_value(self, nodeid: ua.NodeId, dv: ua.DataValue) -> None:
        mid = self._material.get(nodeid)
        value = dv.Value.Value if dv.Value is not None else None
        status = dv.StatusCode or ua.StatusCode()
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))
        if mid is None or not status.is_good() or not ok:
            self.bad_values += 1
            return
        self.stock[mid] = float(value)  # type: ignore[arg-type]


def live_from_floor(
    plant: Plant, tracked: LiveState, responses: Iterable[JobResponse], stock: dict[str, float]
) -> LiveState:
    """The station tags' live state (`tracked`) completed with the job responses and stock levels."""
    epoch = plant.epoch
    completed: set[tuple[str, int]] = set()
    running: list[OperationProgress] = []
    queued: list[QueuedLot] = []
    for r in responses:
        if r.state == JobState.ENDED.value:
            completed.add(r.key)
        elif r.state in {s.value for s in ACTIVE} and r.station is not None:
            started = (r.start - epoch).total_seconds() if r.start is not None else tracked.time
            running.append(
                OperationProgress(
                    order_id=r.order_id,
                    op_index=r.op_index,
                    station=r.station,
                    machine=r.machine or 0,
                    started=started,
                    done_units=r.done_units,
                    operation=r.operation,
                )
            )
        elif r.waiting_at is not None:
            queued.append(QueuedLot(r.order_id, r.op_index, r.waiting_at, r.operation))
    down: dict[str, float] = {}
    for sid, st in tracked.stations.items():
        if st.state in DOWN_STATES and sid in plant.station_map:
            for k in range(plant.station_map[sid].machines):
                down[f"{sid}/{k}"] = st.since
    return replace(
        tracked,
        in_progress=tuple(sorted(running, key=lambda p: (p.station, p.machine))),
        completed=frozenset(completed),
        queued=tuple(sorted(queued, key=lambda q: (q.station, q.order_id, q.op_index))),
        down=down,
        stock=dict(stock),
    )


class LiveView:
    """The watchers a sync client needs for a full live state, and the state built from them."""

    def __init__(
        self,
        plant: Plant,
        *,
        history: Any | None = None,
        on_responses: Callable[[list[JobResponse]], None] | None = None,
    ) -> None:
        """`history`: a `HistoryStore` that gets a row per changed job response."""
        self.plant = plant
        self._history = history
        self._on_responses = on_responses
        self._pending: list[dict[str, Any]] = []
        self._flushed = time.monotonic()
        path = plant.opcua.job_responses or f"{plant.site}/{RESULTS}"
        self.responses = JobResponseWatcher(
            plant.opcua.namespace_uri, path, epoch=plant.epoch, on_change=self._changed
        )
        self.stock = StockWatcher(plant)

    def _changed(self, changed: list[JobResponse]) -> None:
        if self._history is not None:
            t = self.responses.time or 0.0
            self._pending.extend(response_row(t, r) for r in changed)
            if time.monotonic() - self._flushed >= RECORD_EVERY:
                self.flush()
        if self._on_responses is not None:
            self._on_responses(changed)

    def flush(self) -> None:
        """Write the job response rows waiting for the history (batched, RECORD_EVERY seconds)."""
        rows, self._pending = self._pending, []
        self._flushed = time.monotonic()
        if rows and self._history is not None:
            try:
                add_job_responses(self._history, rows)
            except HistoryError as exc:
                log.warning("%d job responses not recorded: %s", len(rows), exc)

    @property
    def watchers(self) -> tuple[JobResponseWatcher, StockWatcher]:
        return (self.responses, self.stock)

    def build(self, tracked: LiveState) -> LiveState:
        """The live state now: `tracked` (the sync client's `live`) plus responses and stock.

        Its time is the latest of the station tags' time and the job response list's time.
        """
        live = live_from_floor(self.plant, tracked, self.responses.responses.values(), self.stock.stock)
        t = self.responses.time
        return replace(live, time=max(live.time, t)) if t is not None else live
