"""The service side of the one-writer pattern: publish Parquet snapshots of the history on a
timer, so that other processes can read while the service holds the file."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from twin.errors import HistoryError
from twin.history.store import HistoryStore

log = logging.getLogger(__name__)


class SnapshotPublisher:
    """Calls `store.publish_snapshot(directory)` every `every` seconds in a daemon thread, and
    once more on `stop()`. Use as a context manager around the service's lifetime.

    A failed publish is logged and counted (`failures`), and the next tick tries again: a full
    disk must not stop the service that records the floor.
    """

    def __init__(self, store: HistoryStore, directory: str | Path | None = None, every: float = 30.0) -> None:
        if every <= 0:
            raise ValueError(f"every must be positive seconds, got {every!r}")
        self.store = store
        self.directory = directory
        self.every = every
        self.published = 0
        self.failures = 0
        self.last: Path | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="history-snapshots", daemon=True)

    def publish(self) -> Path | None:
        """Publish one snapshot now; None if it failed (logged)."""
        try:
            self.last = self.store.publish_snapshot(self.directory)
        except HistoryError as exc:
            self.failures += 1
            log.warning("history snapshot failed: %s", exc)
            return None
        self.published += 1
        return self.last

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.publish()

    def start(self) -> SnapshotPublisher:
        self.publish()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the timer and publish a last snapshot."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.publish()

    def __enter__(self) -> SnapshotPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
