"""The simulator's floor (`SimFloor`) turned into the tag values a virtual plant would publish and
fed through sync's tracker into a history file: actual-side KPIs from the same floor whose
simulator KPIs are known, without the OPC UA transport in between."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import simpy

from sync.sink import events_frame, values_frame
from sync.tags import Tag
from sync.tracker import LiveTracker, Reading
from sync.virtual.simfloor import SimFloor
from twin.history import HistoryStore
from twin.orders import Order
from twin.plant import Plant

TAGS = ("state", "good_count", "reject_count", "current_order", "current_operation")


@dataclass
class FloorFeed:
    """A floor run whose station tags go value by value, in the order written, into `tracker`."""

    plant: Plant
    seed: int = 1
    leave_out: frozenset[tuple[str, str]] = frozenset()
    """(station, tag) pairs the floor does not have (a tag map without them)."""
    values: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = simpy.Environment()
        self.tracker = LiveTracker(self.plant)
        self.floor = SimFloor(self.plant, self.env, seed=self.seed, observer=self._observe)
        for st in self.plant.stations:  # the server's initial values, read at connect
            for tag, value in (("state", "Idle"), ("good_count", 0), ("reject_count", 0)):
                self._write(st.id, tag, value, 0.0)

    def _write(self, station: str, tag: str, value: Any, t: float) -> None:
        if (station, tag) in self.leave_out:
            return
        ts = self.plant.epoch + timedelta(seconds=t)
        reading = Reading(
            Tag(station, tag, f"s={station}.{tag}"), f"s={station}.{tag}", value, source_time=ts
        )
        out = self.tracker.ingest(reading)
        self.values.append(out.row)
        self.events.extend(out.events)

    def _observe(self, rec: dict[str, Any]) -> None:
        """What `sync.virtual.server.VirtualPlant._observe` writes for a floor record."""
        station, kind, t = rec["station"], rec["kind"], rec["time"]
        if kind == "state":
            self._write(station, "state", str(rec["state"]), t)
        elif kind == "produced":
            self._write(station, "good_count", self.floor.good[station], t)
        elif kind == "scrapped":
            self._write(station, "reject_count", self.floor.reject[station], t)
        elif kind == "order_started":
            self._write(station, "current_order", rec["order_id"], t)
            self._write(station, "current_operation", rec["operation"], t)

    def run(self, orders: list[Order], until: float) -> None:
        self.floor.feed(orders)
        self.env.run(until=until)

    def record(self, store: HistoryStore, *, orders: list[Order] | None = None) -> None:
        """Into the history as sync records it (a 'sync' run with the plant; the order book only
        when given)."""
        store.record_run("sync", started_by="test", plant=self.plant, orders=orders)
        store.add_actual_values(values_frame(self.values))
        store.add_actual_events(events_frame(self.events))
