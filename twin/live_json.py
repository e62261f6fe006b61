"""A live-state snapshot as JSON text (for `plantwin replan` and tests): text in, `LiveState` out.

    {
      "time": "2026-12-01T06:00:00+01:00",          # or plant seconds
      "completed": [["SO-1001", 0], ["SO-1001", 1]],  # (order, op_index) pairs finished
      "in_progress": [{"order": "SO-1004", "op": 2, "station": "drill", "machine": 0,
                       "started": "2026-12-01T05:40:00+01:00", "done_units": 30}],
      "stock": {"housing": 640},
      "down": {"cnc1/0": "2026-12-01T05:55:00+01:00"},
      "queued": [{"order": "SO-1007", "op": 0, "station": "saw"}],
      "stations": {"drill": {"state": "Execute", ...}},      # as `plantwin live` writes it
      "plant": "demo", "plant_hash": "9f2c...", "captured_at": "2026-12-03T14:02:11+00:00"
    }

Every key but `time` is optional. Times are ISO datetimes or plant seconds. `live_to_json`
writes this format (what `plantwin live --out` saves); `plant_hash` and `captured_at` let a
reader refuse a snapshot of another plant or one too old (`check_snapshot`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from twin.errors import InputError, Issue
from twin.live import LiveState, OperationProgress, QueuedLot, StationLive
from twin.states import MachineState
from twin.timeutil import parse_time

_KEYS = {
    "time",
    "completed",
    "in_progress",
    "stock",
    "down",
    "queued",
    "stations",
    "plant",
    "plant_hash",
    "captured_at",
    "time_iso",
    "stale",
    "endpoint",
}


@dataclass(frozen=True)
class Snapshot:
    """A parsed snapshot: the live state and where and when it was taken (None when not said)."""

    live: LiveState
    plant_hash: str | None = None
    captured_at: datetime | None = None


def live_from_json(text: str, epoch: datetime, source: str = "<live.json>") -> LiveState:
    """Parse a live-state snapshot (format in the module docstring).

    Raises:
        InputError: bad JSON or a malformed field (the field is named).
    """
    return snapshot_from_json(text, epoch, source).live


def snapshot_from_json(text: str, epoch: datetime, source: str = "<live.json>") -> Snapshot:
    """Parse a snapshot with its plant hash and capture time.

    Raises:
        InputError: bad JSON or a malformed field (the field is named).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Issue(f"not valid JSON: {exc.msg}", source, exc.lineno)) from None
    if not isinstance(data, dict):
        raise InputError(Issue("a live-state snapshot must be a JSON object", source, 1))
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InputError(Issue(f"unknown field(s) {', '.join(unknown)}", source, path=unknown[0]))

    def when(value: Any, path: str) -> float:
        try:
            return parse_time(value, epoch)
        except (ValueError, TypeError) as exc:
            raise InputError(Issue(str(exc), source, path=path)) from None

    if "time" not in data:
        raise InputError(Issue("required field is missing", source, path="time"))
    now = when(data["time"], "time")
    completed = set()
    for i, item in enumerate(data.get("completed", [])):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], int)):
            raise InputError(Issue('expected ["ORDER", op_index]', source, path=f"completed[{i}]"))
        completed.add((str(item[0]), item[1]))
    running = []
    for i, item in enumerate(data.get("in_progress", [])):
        path = f"in_progress[{i}]"
        try:
            running.append(
                OperationProgress(
                    order_id=str(item["order"]),
                    op_index=int(item["op"]),
                    station=str(item["station"]),
                    machine=int(item.get("machine", 0)),
                    started=when(item["started"], f"{path}.started"),
                    done_units=int(item.get("units_done", item.get("done_units", 0))),
                    operation=item.get("operation"),
                )
            )
        except KeyError as exc:
            raise InputError(Issue(f"required field {exc.args[0]!r} is missing", source, path=path)) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(Issue(f"malformed entry: {exc}", source, path=path)) from None
    stock = data.get("stock", {})
    if not isinstance(stock, dict) or not all(isinstance(v, int | float) for v in stock.values()):
        raise InputError(Issue("expected {material: quantity}", source, path="stock"))
    down = data.get("down", {})
    if not isinstance(down, dict):
        raise InputError(Issue('expected {"station/k": time}', source, path="down"))
    queued = []
    for i, item in enumerate(data.get("queued", [])):
        try:
            queued.append(
                QueuedLot(str(item["order"]), int(item["op"]), str(item["station"]), item.get("operation"))
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(Issue(f"malformed entry: {exc!r}", source, path=f"queued[{i}]")) from None
    stations = {}
    for sid, item in (data.get("stations") or {}).items():
        try:
            stations[str(sid)] = StationLive(
                station=str(sid),
                state=MachineState(item.get("state", "Idle")),
                since=when(item.get("since", now), f"stations.{sid}.since"),
                good_count=int(item.get("good_count", 0)),
                reject_count=int(item.get("reject_count", 0)),
                current_order=item.get("current_order"),
                current_operation=item.get("current_operation"),
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError(Issue(f"malformed station: {exc}", source, path=f"stations.{sid}")) from None
    captured = None
    if data.get("captured_at") is not None:
        try:
            captured = datetime.fromisoformat(str(data["captured_at"]))
        except ValueError as exc:
            raise InputError(Issue(str(exc), source, path="captured_at")) from None
        if captured.tzinfo is None:
            raise InputError(Issue("captured_at needs a time zone", source, path="captured_at"))
    live = LiveState(
        time=now,
        stations=stations,
        in_progress=tuple(running),
        completed=frozenset(completed),
        queued=tuple(queued),
        stock={str(k): float(v) for k, v in stock.items()},
        down={str(k): when(v, f"down.{k}") for k, v in down.items()},
        stale=bool(data.get("stale", False)),
    )
    hash_ = data.get("plant_hash")
    return Snapshot(live, str(hash_) if hash_ is not None else None, captured)


def live_to_json(
    live: LiveState, epoch: datetime, *, plant: str, plant_hash: str, captured_at: datetime
) -> dict[str, Any]:
    """The snapshot as a JSON-ready dict (the format `live_from_json` reads; `plantwin live --json`).

    Per station: state, since when, current order and operation, units done of the operation in
    progress, the operations queued there and the cumulative counters.
    """

    def iso(t: float) -> str:
        return (epoch + timedelta(seconds=t)).isoformat()

    running = sorted(live.in_progress, key=lambda p: (p.station, p.machine, p.order_id))
    queued = sorted(live.queued, key=lambda q: (q.station, q.order_id, q.op_index))
    stations: dict[str, Any] = {}
    for sid, st in sorted(live.stations.items()):
        here = [p for p in running if p.station == sid]
        stations[sid] = {
            "state": st.state.value,
            "since": iso(st.since),
            "current_order": st.current_order,
            "current_operation": st.current_operation,
            "units_done": sum(p.done_units for p in here),
            "jobs": [f"{p.order_id}/{p.op_index}" for p in here],
            "queue": [f"{q.order_id}/{q.op_index}" for q in queued if q.station == sid],
            "good_count": st.good_count,
            "reject_count": st.reject_count,
        }
    return {
        "plant": plant,
        "plant_hash": plant_hash,
        "captured_at": captured_at.astimezone(UTC).isoformat(),
        "time": live.time,
        "time_iso": iso(live.time),
        "stale": live.stale,
        "stations": stations,
        "in_progress": [
            {
                "order": p.order_id,
                "op": p.op_index,
                "operation": p.operation,
                "station": p.station,
                "machine": p.machine,
                "started": p.started,
                "units_done": p.done_units,
            }
            for p in running
        ],
        "completed": sorted([o, k] for o, k in live.completed),
        "queued": [
            {"order": q.order_id, "op": q.op_index, "operation": q.operation, "station": q.station}
            for q in queued
        ],
        "stock": dict(sorted(live.stock.items())),
        "down": {m: t for m, t in sorted(live.down.items())},
    }


def check_snapshot(
    snap: Snapshot, plant_hash: str, *, now: datetime, max_age: float | None, source: str
) -> LiveState:
    """The snapshot's live state if it is of this plant and young enough.

    Raises:
        InputError: taken on another plant (hash differs), or older than `max_age` seconds.
    """
    if snap.plant_hash is not None and snap.plant_hash != plant_hash:
        raise InputError(
            Issue(
                f"live snapshot of another plant (hash {snap.plant_hash[:12]}, this plant {plant_hash[:12]})",
                source,
                path="plant_hash",
            )
        )
    if max_age is not None and snap.captured_at is not None:
        age = (now - snap.captured_at).total_seconds()
        if age > max_age:
            raise InputError(
                Issue(
                    f"live snapshot is {age:.0f} s old, older than the {max_age:.0f} s allowed "
                    "(--live-max-age)",
                    source,
                    path="captured_at",
                )
            )
    return snap.live
