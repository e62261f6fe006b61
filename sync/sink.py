"""Where sync writes: the history port (a Protocol), a batching writer, and an in-memory sink.

The history store (`twin.history.HistoryStore`) satisfies `HistorySink`; tests pass a
`MemorySink`. Rows are buffered and written as one Arrow table per flush, on size or on age
(DuckDB takes ~500k rows/s in batches, ~2k rows/s one by one). A writer made with
`background=True` (the sync client's) does the write on a thread of its own, so the event
loop goes on receiving values while DuckDB stores the last batch (a flush of ~5k rows blocked
it for ~45 ms, which showed as latency of every value waiting behind it).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa

from sync.tracker import EVENT_COLUMNS, VALUE_COLUMNS
from twin.history.frames import ACTUAL_EVENTS, ACTUAL_VALUES
from twin.orders import Order
from twin.plant import Plant

log = logging.getLogger(__name__)


class HistorySink(Protocol):
    """The part of the history store sync writes to: values and events, one flush in one
    transaction (a kill -9 leaves a flush in the history whole or not at all)."""

    def add_actual_values(self, df: pd.DataFrame | pa.Table) -> Any: ...

    def add_actual_events(self, df: pd.DataFrame | pa.Table) -> Any: ...

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


def values_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Raw-value rows as an Arrow table with the history's schema (~6x faster than a DataFrame)."""
    return pa.Table.from_pylist(rows, schema=ACTUAL_VALUES)


def events_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Actual-event rows as an Arrow table with the history's schema."""
    return pa.Table.from_pylist(rows, schema=ACTUAL_EVENTS)


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

    def add_actual_values(self, df: pd.DataFrame | pa.Table) -> None:
        self.value_frames.append(_as_frame(df, values_frame))

    def transaction(self) -> AbstractContextManager[Any]:
        return contextlib.nullcontext(self)

    def add_actual_events(self, df: pd.DataFrame | pa.Table) -> None:
        self.event_frames.append(_as_frame(df, events_frame))

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


def _as_frame(
    df: pd.DataFrame | pa.Table, make: Callable[[list[dict[str, Any]]], pd.DataFrame]
) -> pd.DataFrame:
    """A table as the DataFrame `make` builds from its rows (same columns and dtypes)."""
    return make(df.to_pylist()) if isinstance(df, pa.Table) else df


class BatchWriter:
    """Buffers rows and writes them to a `HistorySink` when `max_rows` are waiting or the oldest
    row is `max_age` seconds old (checked on each add and by `maybe_flush`).

    With `background=True` a due batch is handed to one writer thread (batches stay in order)
    and `add`/`maybe_flush` return at once; `flush` always waits until everything is stored.
    A write that failed is raised (in the background: by the next `maybe_flush` or `flush`;
    `error` holds it), and nothing after it is stored: rows are never dropped silently, and the
    history stays a prefix of what was received, which is what a resume needs.
    """

    def __init__(
        self,
        sink: HistorySink,
        *,
        max_rows: int = 1000,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        background: bool = False,
    ) -> None:
        self._sink = sink
        self._max_rows = max_rows
        self._max_age = max_age
        self._clock = clock
        self._values: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._oldest: float | None = None
        self._background = background
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        """The first write that failed (raised again by the next call), else None."""
        self.values_written = 0
        self.events_written = 0

    def add(self, row: dict[str, Any], events: list[dict[str, Any]]) -> None:
        """Buffer one value row and its events; hand the batch on when it is full."""
        if self._oldest is None:
            self._oldest = self._clock()
        self._values.append(row)
        if events:
            self._events.extend(events)
        if len(self._values) + len(self._events) >= self._max_rows:
            self._submit()

    def maybe_flush(self) -> None:
        """Hand the batch on if it is full or old enough; raise a write that failed."""
        self._raise_failed()
        pending = len(self._values) + len(self._events)
        if pending >= self._max_rows or (
            self._oldest is not None and self._clock() - self._oldest >= self._max_age
        ):
            self._submit()

    def flush(self) -> None:
        """Write what is buffered and wait until it (and every batch before it) is stored."""
        self._raise_failed()
        self._submit()
        for future in self._pending:
            future.exception()  # a failure is kept in self.error by _write
        self._pending.clear()
        self._raise_failed()

    def close(self) -> None:
        """Flush, then stop the writer thread (a later write starts a new one)."""
        try:
            self.flush()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _submit(self) -> None:
        """Write the buffered rows: here (in the foreground, raising a failure) or on the writer
        thread (never raising here: the next `maybe_flush` or `flush` does)."""
        if not self._background:
            self._raise_failed()
        values, events = self._values, self._events
        self._values, self._events, self._oldest = [], [], None
        if not values and not events:
            return
        if not self._background:
            self._write(values, events)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="history-writer")
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(self._write, values, events))

    def _raise_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def _write(self, values: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        """Values and events in one transaction: the next session resumes from the last counter
        values stored, so the parts derived from them must be stored with them, or neither."""
        if self.error is not None:  # after a failed batch nothing later is stored (resume stays exact)
            return
        try:
            with self._sink.transaction():
                if values:
                    self._sink.add_actual_values(values_table(values))
                if events:
                    self._sink.add_actual_events(events_table(events))
        except BaseException as exc:
            with self._lock:
                self.error = self.error or exc
            if not self._background:
                raise
            return
        with self._lock:
            self.values_written += len(values)
            self.events_written += len(events)
