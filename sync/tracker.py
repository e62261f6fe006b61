"""From received OPC UA values to the twin's live state and actual events (no IO, no asyncio).

Every value received is classified and becomes one raw-value row, good or not; only good
values change the live state. Parts are derived from the cumulative counters, never by
counting notifications (subscriptions sample: intermediate values are dropped by design):

- first value of a counter: the baseline (parts made before sync was watching are not
  "actuals" of this run), unless a baseline is passed in: `LiveTracker.resume` takes the last
  values a previous session stored in the history, so parts made while sync was down are
  counted at the first value read (and nothing twice);
- value >= last: `value - last` parts, however many notifications were skipped;
- value < last: the counter was reset (a server/PLC restart without retentive counters).
  The new value is counted as parts made since the reset; parts made between the last value
  seen and the reset cannot be known and are reported in `lost_unknown` as such (a warning,
  never a guess). The row is marked `counter_reset`.

Timestamps: plant seconds = source timestamp - plant epoch (the clock of the floor, not of
this process); a value without source timestamp takes the server timestamp. A value older
than the last good one of the same node is `out_of_order` and not used; after a server
restart (`new_server_life`) that ordering starts afresh.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sync.tags import COUNTER_TAGS, TEXT_TAGS, Tag
from twin.live import LiveState, StationLive
from twin.plant import Plant
from twin.states import MachineState
from twin.tagnames import SERVER_START_TAG, process_value_name

GOOD = "good"
BAD = "bad"
UNCERTAIN = "uncertain"
WRONG_TYPE = "wrong_type"
NAN = "nan"
OUT_OF_ORDER = "out_of_order"
NO_TIMESTAMP = "no_timestamp"
COUNTER_RESET = "counter_reset"
USED = frozenset({GOOD, COUNTER_RESET})

VALUE_COLUMNS = (
    "time",
    "source_time",
    "server_time",
    "node_id",
    "station",
    "tag",
    "value",
    "value_text",
    "status_code",
    "status",
)
EVENT_COLUMNS = ("time", "station", "machine", "kind", "order_id", "operation", "quantity", "state")


@dataclass(frozen=True)
class Reading:
    """One value as received: from a subscription notification or a read."""

    tag: Tag
    node_id: str
    value: Any
    status_code: int = 0
    status_name: str = "Good"
    source_time: datetime | None = None
    server_time: datetime | None = None


@dataclass
class Outcome:
    """What one reading produced: its raw-value row and the actual events derived from it."""

    row: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def used(self) -> bool:
        return self.row["status"] in USED


class LiveTracker:
    """Keeps a `LiveState` current from readings and derives produced/scrapped/state events."""

    def __init__(self, plant: Plant, *, baselines: dict[tuple[str, str], int] | None = None) -> None:
        self._epoch = plant.epoch
        # each station's fields as a plain dict, changed in place per value (a frozen
        # StationLive per value cost two dataclass copies); `live` turns the changed ones
        # into frozen snapshots only when the live state is read
        self._work: dict[str, dict[str, Any]] = {
            s.id: asdict(StationLive(station=s.id)) for s in plant.stations
        }
        self._snaps: dict[str, StationLive] = {}
        self._dirty: set[str] = set(self._work)
        self._counters: dict[tuple[str, str], int] = dict(baselines or {})
        self._last_ts: dict[str, datetime] = {}
        self._time = 0.0
        self._last_good: float | None = None
        self._stale = True
        self.counted: dict[tuple[str, str], int] = {}
        """Parts counted by this tracker per (station, 'good_count'|'reject_count')."""
        self.lost_unknown: dict[tuple[str, str], int] = {}
        """Counter resets seen per (station, counter): each hides an unknown number of parts."""
        self.status_counts: dict[str, int] = {}

    @classmethod
    def resume(cls, plant: Plant, last: Mapping[tuple[str, str], Any]) -> LiveTracker:
        """A tracker that goes on from where a previous session left off: `last` maps
        (station, tag) to the last good value stored (anything with `time`, `value`, `text`,
        e.g. `twin.history.counters.LastValue`). Counters become baselines; state, order and
        operation are taken as they were, so an unchanged one adds no event."""
        baselines = {
            key: int(v.value)
            for key, v in last.items()
            if key[1] in COUNTER_TAGS and v.value is not None and math.isfinite(v.value)
        }
        tracker = cls(plant, baselines=baselines)
        for (station, tag), v in last.items():
            cur = tracker._work.get(station)
            if cur is None or tag not in TEXT_TAGS or v.text is None:
                continue
            if tag == "state":
                if v.text in MachineState._value2member_map_:
                    cur.update(state=MachineState(v.text), since=v.time, last_heard=v.time)
            elif tag == "current_order":
                cur["current_order"] = v.text or None
            else:
                cur["current_operation"] = v.text or None
        return tracker

    # ---- state ----
    @property
    def live(self) -> LiveState:
        """The live state now (a frozen snapshot)."""
        for station in self._dirty:
            fields = self._work[station]
            self._snaps[station] = StationLive(**{**fields, "process_values": dict(fields["process_values"])})
        self._dirty.clear()
        return LiveState(
            time=self._time,
            stations=dict(self._snaps),
            stale=self._stale,
            last_good=self._last_good,
        )

    def mark_stale(self) -> None:
        """The floor is lost (connection down): the state stays, flagged stale since `last_good`."""
        self._stale = True

    def mark_fresh(self) -> None:
        self._stale = False

    def new_server_life(self) -> None:
        """The server restarted: its timestamps may start over, so ordering per node starts afresh."""
        self._last_ts.clear()

    def server_start_row(self, start: datetime, node_id: str) -> dict[str, Any]:
        """The raw-value row that records the server's start time (read at every (re)connect): the
        next session compares it with the server's to see a restart while sync was down."""
        return {
            "time": self._time,
            "source_time": start,
            "server_time": None,
            "node_id": node_id,
            "station": None,
            "tag": SERVER_START_TAG,
            "value": self.plant_seconds(start),
            "value_text": start.isoformat(),
            "status_code": 0,
            "status": GOOD,
        }

    def produced(self, station: str) -> int:
        return self.counted.get((station, "good_count"), 0)

    def scrapped(self, station: str) -> int:
        return self.counted.get((station, "reject_count"), 0)

    # ---- ingest ----
    def plant_seconds(self, ts: datetime) -> float:
        return (ts - self._epoch).total_seconds()

    def ingest(self, r: Reading) -> Outcome:
        """Classify one reading, update the live state if it is good, and derive events."""
        ts = r.source_time or r.server_time
        t = self.plant_seconds(ts) if ts is not None else self._time
        status, number, text = self._classify(r, ts)
        row = {
            "time": t,
            "source_time": r.source_time,
            "server_time": r.server_time,
            "node_id": r.node_id,
            "station": r.tag.station,
            "tag": r.tag.tag,
            "value": number,
            "value_text": text,
            "status_code": int(r.status_code),
            "status": status,
        }
        outcome = Outcome(row)
        if status == GOOD:
            assert ts is not None
            self._last_ts[r.node_id] = ts
            self._apply(r, t, outcome)
        self.status_counts[outcome.row["status"]] = self.status_counts.get(outcome.row["status"], 0) + 1
        return outcome

    def _classify(self, r: Reading, ts: datetime | None) -> tuple[str, float, str | None]:
        value = r.value
        text = None if value is None else str(value)
        number = math.nan
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        severity = (int(r.status_code) >> 30) & 0x3
        if severity == 0x2 or severity == 0x3:
            return f"{BAD}:{r.status_name}", number, text
        if severity == 0x1:
            return f"{UNCERTAIN}:{r.status_name}", number, text
        if ts is None:
            return NO_TIMESTAMP, number, text
        last = self._last_ts.get(r.node_id)
        if last is not None and ts < last:
            return OUT_OF_ORDER, number, text
        name = r.tag.tag
        if name in COUNTER_TAGS:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return (GOOD if ok else WRONG_TYPE), number, text
        if name == "state":
            if not isinstance(value, str) or value not in MachineState._value2member_map_:
                return WRONG_TYPE, number, text
            return GOOD, number, text
        if name in TEXT_TAGS:
            return (GOOD if isinstance(value, str) else WRONG_TYPE), number, text
        if not (isinstance(value, int | float) and not isinstance(value, bool)):
            return WRONG_TYPE, number, text
        if not math.isfinite(float(value)):
            return NAN, number, text
        return GOOD, number, text

    def _apply(self, r: Reading, t: float, outcome: Outcome) -> None:
        station = r.tag.station
        cur = self._work.get(station)
        if cur is None:  # a tag of a station the plant does not have: kept as it comes
            cur = self._work[station] = asdict(StationLive(station=station))
        self._dirty.add(station)
        self._time = max(self._time, t)
        self._last_good = self._time
        name = r.tag.tag
        value = r.value
        if name in COUNTER_TAGS:
            key = (station, name)
            last = self._counters.get(key)
            delta = 0
            if last is not None and value >= last:
                delta = value - last
            elif last is not None:
                delta = value
                outcome.row["status"] = COUNTER_RESET
                self.lost_unknown[key] = self.lost_unknown.get(key, 0) + 1
            self._counters[key] = value
            if delta:
                self.counted[key] = self.counted.get(key, 0) + delta
                outcome.events.append(
                    self._event(t, station, "produced" if name == "good_count" else "scrapped", cur, delta)
                )
            cur[name] = self.counted.get(key, 0)
        elif name == "state":
            state = MachineState(value)
            if state != cur["state"] or cur["last_heard"] is None:
                cur["state"], cur["since"] = state, t
                outcome.events.append(self._event(t, station, "state", cur, 0, state=state.value))
        elif name == "current_order":
            order = value or None
            if order != cur["current_order"]:
                if cur["current_order"] is not None:
                    outcome.events.append(self._event(t, station, "order_finished", cur, 0))
                cur["current_order"] = order
                if order is not None:
                    outcome.events.append(self._event(t, station, "order_started", cur, 0))
        elif name == "current_operation":
            cur["current_operation"] = value or None
        elif name == "cycle_time":
            cur["last_cycle_time"] = float(value)
        else:
            cur["process_values"][process_value_name(name) or name] = float(value)
        cur["last_heard"] = t

    @staticmethod
    def _event(
        t: float, station: str, kind: str, cur: dict[str, Any], quantity: int, state: str | None = None
    ) -> dict[str, Any]:
        return {
            "time": t,
            "station": station,
            "machine": None,
            "kind": kind,
            "order_id": cur["current_order"],
            "operation": cur["current_operation"],
            "quantity": int(quantity),
            "state": state,
        }
