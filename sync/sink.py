"""Where sync writes: the history port (a Protocol), a batching writer, and an in-memory sink.

The history store (`twin.history.HistoryStore`) satisfies `HistorySink`; tests pass a
`MemorySink`. Rows are buffered and written as one DataFrame per flush, on size or on age
(DuckDB takes ~500k rows/s in batches, ~2k rows/s one by one).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pandas as pd

from sync.tracker import EVENT_COLUMNS, VALUE_COLUMNS
from twin.orders import Order
from twin.plant import Plant

log = logging.getLogger(__name__)


class HistorySink(Protocol):
    """The part of the history store sync writes to: values and events, one flush in one
    transaction (a kill -9 leaves a flush in the history whole or not at all)."""

    def add_actual_values(self, df: pd.DataFrame) -> Any: ...

    def add_actual_events(self, df: pd.DataFrame) -> Any: ...

    def transaction(self) -> AbstractContextManager[Any]: ...


class RunRecorder(Protocol):
    """The part of the history store that records a dispatch."""

    def record_run(
        self,
        kind: str,
        *,
        started_by: str,
        plant: Plant | None = None,
        orders: Sequence[Order] | None = None,
        params: dict[str, Any] | None = None,
        status: str = "ok",
    ) -> Any: ...


def values_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Raw-value rows as a DataFrame with the history's columns and dtypes."""
    df = pd.DataFrame(rows, columns=list(VALUE_COLUMNS))
    df["time"] = df["time"].astype("float64")
    df["value"] = df["value"].astype("float64")
    df["status_code"] = df["status_code"].astype("int64")
    return df


def events_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Actual-event rows as a DataFrame with the history's columns and dtypes."""
    df = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    df["time"] = df["time"].astype("float64")
    df["quantity"] = df["quantity"].astype("int64")
    return df


class MemorySink:
    """Keeps every flushed frame in memory (tests, benchmarks)."""

    def __init__(self) -> None:
        self.value_frames: list[pd.DataFrame] = []
        self.event_frames: list[pd.DataFrame] = []
        self.runs: list[dict[str, Any]] = []

    def add_actual_values(self, df: pd.DataFrame) -> None:
        self.value_frames.append(df)

    def transaction(self) -> AbstractContextManager[Any]:
        return contextlib.nullcontext(self)

    def add_actual_events(self, df: pd.DataFrame) -> None:
        self.event_frames.append(df)

    def record_run(
        self,
        kind: str,
        *,
        started_by: str,
        plant: Plant | None = None,
        orders: Sequence[Order] | None = None,
        params: dict[str, Any] | None = None,
        status: str = "ok",
    ) -> str:
        self.runs.append(
            {
                "kind": kind,
                "started_by": started_by,
                "plant": plant,
                "orders": orders,
                "params": params,
                "status": status,
            }
        )
        return f"run-{len(self.runs)}"

    @property
    def values(self) -> pd.DataFrame:
        return pd.concat(self.value_frames, ignore_index=True) if self.value_frames else values_frame([])

    @property
    def events(self) -> pd.DataFrame:
        return pd.concat(self.event_frames, ignore_index=True) if self.event_frames else events_frame([])


class BatchWriter:
    """Buffers rows and writes them to a `HistorySink` when `max_rows` are waiting or the oldest
    row is `max_age` seconds old (checked on each add and by `maybe_flush`)."""

    def __init__(
        self,
        sink: HistorySink,
        *,
        max_rows: int = 1000,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._max_rows = max_rows
        self._max_age = max_age
        self._clock = clock
        self._values: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._oldest: float | None = None
        self.values_written = 0
        self.events_written = 0

    def add(self, row: dict[str, Any], events: list[dict[str, Any]]) -> None:
        if self._oldest is None:
            self._oldest = self._clock()
        self._values.append(row)
        self._events.extend(events)
        self.maybe_flush()

    def maybe_flush(self) -> None:
        pending = len(self._values) + len(self._events)
        if pending >= self._max_rows or (
            self._oldest is not None and self._clock() - self._oldest >= self._max_age
        ):
            self.flush()

    def flush(self) -> None:
        """Write what is buffered, values and events in one transaction: the next session resumes
        from the last counter values stored, so the parts derived from them must be stored with
        them, or neither."""
        values, events = self._values, self._events
        self._values, self._events, self._oldest = [], [], None
        if not values and not events:
            return
        with self._sink.transaction():
            if values:
                self._sink.add_actual_values(values_frame(values))
            if events:
                self._sink.add_actual_events(events_frame(events))
        self.values_written += len(values)
        self.events_written += len(events)
