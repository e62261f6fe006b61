"""Tag maps for real machines: a tag written as null is left out (not subscribed, no bad rows), each
tag may name its own namespace URI (the plant's default namespace need not be on the server), and
a tag that is not on the server is one warning line, not a failed connection."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from sync.client import SyncClient
from sync.joborders import Job
from sync.sink import MemorySink
from sync.tags import plant_tags
from sync.virtual.server import VirtualPlant
from twin.loader import plant_from_text

pytestmark = pytest.mark.timeout(90)
MACHINE = """
name: vendor
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:vendor:press"}
lines:
  - id: L
    stations:
      - id: press
        tags: {reject_count: null, current_order: null, current_operation: null, cycle_time: null}
products:
  - id: P
    routing: [{id: press, stations: press, time: 20}]
"""
OURS = """
name: ours
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:ours"}
lines:
  - id: L
    stations:
      - id: press
        tags:
          state: "nsu=urn:vendor:press;s=L.press.State"
          good_count: "nsu=urn:vendor:press;s=L.press.GoodCount"
          reject_count: null
          current_order: null
          current_operation: null
          cycle_time: "nsu=urn:vendor:press;s=L.press.NoSuchTag"
products:
  - id: P
    routing: [{id: press, stations: press, time: 20}]
"""


def test_a_tag_written_as_null_is_left_out_and_unwritten_ones_follow_the_convention() -> None:
    plant, _ = plant_from_text(OURS, "ours.yaml")
    tm = plant.tag_map("press")
    assert tm.reject_count is None and tm.current_order is None and tm.current_operation is None
    assert tm.good_count == "nsu=urn:vendor:press;s=L.press.GoodCount"
    assert [t.tag for t in plant_tags(plant)] == ["state", "good_count", "cycle_time"]
    machine, _ = plant_from_text(MACHINE, "vendor.yaml")
    assert machine.tag_map("press").state == "nsu=urn:vendor:press;s=L.press.State"  # the convention


async def test_per_tag_namespaces_and_left_out_tags_against_a_machine_that_lacks_them(
    shelf: Path, caplog: pytest.LogCaptureFixture
) -> None:
    machine, _ = plant_from_text(MACHINE, "vendor.yaml")
    ours, _ = plant_from_text(OURS, "ours.yaml")
    sink = MemorySink()
    caplog.set_level(logging.WARNING, logger="sync")
    async with (
        VirtualPlant(machine, port=0, speed=3000, shelf=shelf) as vp,
        SyncClient(ours, vp.endpoint, sink=sink, batch_age=0.1) as client,
    ):
        namespaces = await client.ua_client.get_namespace_array()
        assert "urn:plantwin:ours" not in namespaces  # our default namespace is not on the server
        assert vp.floor is not None
        vp.floor.submit(Job("J", "J", "P", 0, "press", "press", 0, 12))
        end = time.monotonic() + 30
        while client.tracker.produced("press") < 12:
            assert time.monotonic() < end, "the parts were not counted"
            await asyncio.sleep(0.05)
    warnings = [r.getMessage() for r in caplog.records if r.name == "sync.client"]
    assert len(warnings) == 1 and "not measured" in warnings[0] and "press.cycle_time" in warnings[0]
    assert set(sink.values.tag) == {"state", "good_count", "server_start_time"}
    assert set(sink.values.status) == {"good"}  # no bad rows for what the machine lacks
