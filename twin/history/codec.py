"""Small conversions for the store: JSON for parameters and KPIs, content hashes, run ids, times."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import pandas as pd

from twin.errors import HistoryError
from twin.orders import Order, book_hash
from twin.timeutil import parse_duration, to_seconds

RUN_KINDS = ("plan", "simulation", "scenario", "verdict", "dispatch", "sync", "demo", "fidelity")


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: dataclasses and pydantic models as dicts, non-finite floats as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(mode="json"))
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys) of `jsonable(value)`."""
    return json.dumps(jsonable(value), sort_keys=True, allow_nan=False)


def loads(text: str | None) -> Any:
    """Parsed JSON, or {} for an empty column."""
    return json.loads(text) if text else {}


def orders_frame(orders: Sequence[Order]) -> pd.DataFrame:
    """One row per order (an infinite due date as missing)."""
    return pd.DataFrame(
        {
            "order_id": [o.id for o in orders],
            "product": [o.product for o in orders],
            "quantity": [int(o.quantity) for o in orders],
            "release": [float(o.release) for o in orders],
            "due": [o.due if math.isfinite(o.due) else None for o in orders],
            "weight": [float(o.weight) for o in orders],
        }
    )


def orders_hash(orders: Sequence[Order]) -> str:
    """SHA-256 of the order book's canonical JSON: equal books, equal hash (`twin.orders.book_hash`)."""
    return book_hash(orders)


def new_run_id(kind: str, now: datetime) -> str:
    """A readable, sortable, unique id: 'plan-20261130-061500-3fa2c1'."""
    return f"{kind}-{now.astimezone(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def since_time(value: datetime | str | timedelta | None, now: datetime) -> datetime | None:
    """An absolute instant from a datetime, an ISO string, or an age ('2h', '7d', timedelta)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, timedelta):
        return now - value
    text = str(value).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise HistoryError(f"since: cannot read {value!r}: {exc}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        raise HistoryError(f"since: {exc}") from None


def plant_seconds(value: float | datetime | None, epoch: datetime | None, default: float) -> float:
    """Plant seconds from seconds or an aware datetime (needs the epoch); `default` for None."""
    if value is None:
        return default
    if isinstance(value, datetime):
        if epoch is None:
            raise HistoryError("a datetime bound needs a plant (its epoch); pass plant seconds instead")
        return to_seconds(value, epoch)
    return float(value)


def add_timestamps(frame: pd.DataFrame, epoch: datetime | None, columns: Sequence[str]) -> pd.DataFrame:
    """Add '<col>_ts' (aware, in the epoch's zone) beside each plant-seconds column."""
    if epoch is None:
        return frame
    base = pd.Timestamp(epoch)
    for col in columns:
        if col in frame.columns:
            frame[f"{col}_ts"] = base + pd.to_timedelta(frame[col].astype("float64"), unit="s")
    return frame


def one(result: Any) -> tuple[Any, ...] | None:
    """The first row of a DuckDB result, consuming it whole (DuckDB wants results finished
    before the next statement on the same cursor)."""
    rows = result.fetchall()
    return rows[0] if rows else None
