"""A virtual plant restarted with --state and --feed resumes its feed from where its state says it
stopped: nothing finished is made again, work under way goes on, every order is done once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sync.virtual.server import VirtualPlant
from twin.loader import plant_from_text
from twin.orders import Order

PLANT = """
name: resume
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:resume"}
lines:
  - id: L
    stations:
      - {id: saw}
      - {id: pack, buffer: 2}
products:
  - id: P
    routing:
      - {id: cut, stations: saw, time: 20}
      - {id: box, stations: pack, time: 30}
"""


async def test_restart_resumes_the_feed(tmp_path: Path, shelf: Path) -> None:
    plant, _ = plant_from_text(PLANT, "resume.yaml")
    orders = [Order(f"O{i}", "P", 4, release=60.0 * i) for i in range(8)]
    total = sum(o.quantity for o in orders)
    state = tmp_path / "plant-state.json"
    async with VirtualPlant(
        plant, port=0, speed=300, seed=1, feed=orders, state_path=state, shelf=shelf
    ) as vp:
        await asyncio.sleep(1.5)
        vp.freeze()
        before = vp.ground_truth()
        packed_before = vp.floor.good["pack"]
    assert before.completed and before.in_progress and 0 < packed_before < total
    async with VirtualPlant(
        plant, port=0, speed=300, seed=1, feed=orders, state_path=state, shelf=shelf
    ) as vp:
        after = vp.ground_truth()
        assert after.time == before.time
        assert after.completed == before.completed
        assert {p.key: p.done_units for p in after.in_progress} == {
            p.key: p.done_units for p in before.in_progress
        }
        deadline = time.monotonic() + 30
        while vp.floor.good["pack"] < total and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        done = vp.ground_truth()
    # every order made once: the retentive pack counter counts each unit of the book exactly once
    assert vp.floor.good["pack"] == total
    assert done.completed == {(o.id, k) for o in orders for k in (0, 1)}
    assert not done.in_progress and not done.queued
