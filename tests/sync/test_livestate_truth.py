"""The live state built from OPC UA alone equals the virtual plant's own state, operation by
operation, at several moments of a run; a schedule checked warm-started from either agrees."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from planner.solver import dispatch_schedule
from sim.check import check
from sim.run import simulate
from sync.client import SyncClient
from sync.livestate import LiveView
from sync.virtual.server import VirtualPlant
from twin.history import HistoryStore
from twin.history.jobresponses import latest_job_responses
from twin.live import LiveState
from twin.loader import plant_from_text
from twin.orders import Order
from twin.plant import Plant

LINE = """
name: truthline
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:truth"}
materials:
  - {id: blank, stock: 400}
lines:
  - id: L
    stations:
      - id: saw
        failures: {mtbf: {exponential: 12m}, mttr: {exponential: 4m}}
      - id: drill
        machines: 2
        buffer: 2
      - id: pack
        buffer: 1
products:
  - id: P
    routing:
      - {id: cut, stations: saw, time: {exponential: 40}, consumes: {blank: 1}}
      - {id: bore, stations: drill, time: {exponential: 90}}
      - {id: box, stations: pack, time: 30}
"""


@pytest.fixture(scope="module")
def line() -> Plant:
    plant, _ = plant_from_text(LINE, "truthline.yaml")
    return plant


def _ops(live: LiveState) -> dict[str, object]:
    """What must agree: per operation, and per station state; times to the millisecond."""
    return {
        "completed": sorted(live.completed),
        "in_progress": sorted(
            (p.order_id, p.op_index, p.operation, p.station, p.machine, p.done_units, round(p.started, 3))
            for p in live.in_progress
        ),
        "queued": sorted((q.order_id, q.op_index, q.operation, q.station) for q in live.queued),
        "down": sorted((m, round(t, 3)) for m, t in live.down.items()),
        "stock": live.stock,
        "states": {s: st.state for s, st in live.stations.items()},
    }


async def _settle(view: LiveView, client: SyncClient, truth: LiveState, timeout: float) -> LiveState:
    """The live state from OPC UA once it has caught up with the frozen floor (or at the timeout)."""
    deadline = time.monotonic() + timeout
    live = view.build(client.live)
    while _ops(live) != _ops(truth) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        live = view.build(client.live)
    return live


async def test_live_state_from_opcua_equals_the_floor(line: Plant, shelf: Path, tmp_path: Path) -> None:
    orders = [Order(f"O{i}", "P", 6 + i % 4, release=120.0 * i, due=3000.0 + 400.0 * i) for i in range(12)]
    store = HistoryStore(tmp_path / "h.duckdb")
    view = LiveView(line, history=store)
    moments = []
    async with (
        VirtualPlant(line, port=0, speed=900, seed=5, feed=orders, shelf=shelf) as vp,
        SyncClient(line, vp.endpoint, watchers=view.watchers) as client,
    ):
        for wall in (1.2, 1.5, 2.0):
            await asyncio.sleep(wall)
            vp.freeze()
            truth = vp.ground_truth()
            live = await _settle(view, client, truth, 10.0)
            moments.append((truth, live))
            vp.unfreeze()
    # the history holds the latest response of every job order the floor reported
    view.flush()
    latest = latest_job_responses(store)
    store.close()
    assert set(latest["job_id"]) == set(view.responses.responses)
    ended = set(latest[latest["state"] == "Ended"]["job_id"])
    assert ended == {f"{o}/{k}" for o, k in view.build(client.live).completed}
    seen_running = seen_queued = seen_done = 0
    for truth, live in moments:
        assert _ops(live) == _ops(truth)
        seen_running += len(truth.in_progress)
        seen_queued += len(truth.queued)
        seen_done += len(truth.completed)
    # the moments were taken while work was under way, queued and partly done
    assert seen_running and seen_queued and seen_done
    assert any(p.done_units > 0 for t, _ in moments for p in t.in_progress)

    # a run warm-started from the OPC UA live state is the run warm-started from the truth
    truth, live = moments[-1]
    live = replace(live, time=truth.time)
    a = simulate(line, orders, live=truth, seed=11)
    b = simulate(line, orders, live=live, seed=11)
    assert a.orders.equals(b.orders)
    assert a.operations.equals(b.operations)
    # and a schedule of what is left, planned and checked from either, gets the same verdict
    plan = dispatch_schedule(line, orders, rule="EDD", live=truth)
    assert plan == dispatch_schedule(line, orders, rule="EDD", live=live)
    v_truth = check(line, orders, plan, replications=4, seed=3, live=truth)
    v_live = check(line, orders, plan, replications=4, seed=3, live=live)
    assert v_truth.orders == v_live.orders and v_truth.makespans == v_live.makespans
    assert v_truth.accepted == v_live.accepted
