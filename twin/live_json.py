"""A live-state snapshot as JSON text (for `plantwin replan` and tests): text in, `LiveState` out.

    {
      "time": "2026-12-01T06:00:00+01:00",          # or plant seconds
      "completed": [["SO-1001", 0], ["SO-1001", 1]],  # (order, op_index) pairs finished
      "in_progress": [{"order": "SO-1004", "op": 2, "station": "drill", "machine": 0,
                       "started": "2026-12-01T05:40:00+01:00", "done_units": 30}],
      "stock": {"housing": 640},
      "down": {"cnc1/0": "2026-12-01T05:55:00+01:00"}
    }

Every key but `time` is optional. Times are ISO datetimes or plant seconds.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from twin.errors import InputError, Issue
from twin.live import LiveState, OperationProgress
from twin.timeutil import parse_time


def live_from_json(text: str, epoch: datetime, source: str = "<live.json>") -> LiveState:
    """Parse a live-state snapshot (format in the module docstring).

    Raises:
        InputError: bad JSON or a malformed field (the field is named).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Issue(f"not valid JSON: {exc.msg}", source, exc.lineno)) from None
    if not isinstance(data, dict):
        raise InputError(Issue("a live-state snapshot must be a JSON object", source, 1))
    unknown = sorted(set(data) - {"time", "completed", "in_progress", "stock", "down"})
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
                    done_units=int(item.get("done_units", 0)),
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
    return LiveState(
        time=now,
        in_progress=tuple(running),
        completed=frozenset(completed),
        stock={str(k): float(v) for k, v in stock.items()},
        down={str(k): when(v, f"down.{k}") for k, v in down.items()},
    )
