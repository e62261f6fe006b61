"""The virtual plant without a network: its floor's tag writes go straight into a `LiveTracker`
and a history sink, as fast as the simulator runs.

What reaches the tracker is what a sync client subscribed to the virtual plant would receive:
the same tag writes (`server.tag_writes`), source-timestamped with the floor's clock, and a
write that leaves a value unchanged is not delivered (OPC UA's default data-change trigger,
status or value). Used to make days of floor history in seconds (tests, benchmarks); the
real path over OPC UA is `VirtualPlant` + `sync.client`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import simpy

from sync.sink import BatchWriter, HistorySink
from sync.tags import plant_tags
from sync.tracker import LiveTracker, Reading
from sync.virtual.server import tag_writes
from sync.virtual.simfloor import SimFloor
from twin.drift import Drift
from twin.orders import Order
from twin.plant import Plant
from twin.structure import structure_differences


@dataclass(frozen=True)
class OfflineRun:
    """What an offline run delivered: values and events written, plant time reached."""

    values: int
    events: int
    until: float


def record_floor(
    plant: Plant,
    orders: Sequence[Order],
    until: float,
    sink: HistorySink,
    *,
    truth: Plant | None = None,
    drifts: Sequence[Drift] = (),
    seed: int = 1,
    start: float = 0.0,
) -> OfflineRun:
    """Run the floor (`truth`, default `plant`) on `orders` from `start` to `until` plant seconds,
    tracking `plant`'s tags into `sink`.

    Raises:
        ValueError: `truth` is not the same floor as `plant`.
    """
    floor_plant = truth if truth is not None else plant
    if truth is not None and (diff := structure_differences(plant, truth)):
        raise ValueError("the truth is not the same floor as the plant: " + "; ".join(diff))
    tags = {(t.station, t.tag): t for t in plant_tags(plant)}
    tracker = LiveTracker(plant)
    writer = BatchWriter(sink, max_rows=50_000, max_age=1e9)
    last: dict[tuple[str, str], Any] = {}
    env = simpy.Environment(initial_time=start)
    epoch = plant.epoch
    holder: dict[str, SimFloor] = {}

    def observe(rec: dict[str, Any]) -> None:
        floor = holder["floor"]
        for name, value in tag_writes(rec, floor):
            key = (rec["station"], name)
            tag = tags.get(key)
            if tag is None or last.get(key) == value:
                continue
            last[key] = value
            ts = epoch + timedelta(seconds=float(rec["time"]))
            out = tracker.ingest(Reading(tag, tag.ref, value, source_time=ts, server_time=ts))
            writer.add(out.row, out.events)

    floor = SimFloor(floor_plant, env, seed=seed, observer=observe, drifts=drifts)
    holder["floor"] = floor
    # the initial values a subscription reads first: the baseline of every counter and state
    for (station, name), tag in tags.items():
        init = {"state": "Idle", "good_count": 0, "reject_count": 0}.get(name)
        if init is not None:
            last[(station, name)] = init
            ts = epoch + timedelta(seconds=start)
            out = tracker.ingest(Reading(tag, tag.ref, init, source_time=ts, server_time=ts))
            writer.add(out.row, out.events)
    floor.feed([o for o in orders if o.release >= start])
    env.run(until=until)
    writer.flush()
    return OfflineRun(writer.values_written, writer.events_written, until)
