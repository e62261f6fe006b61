"""HistoryStore: one DuckDB file holding every run (plan, simulation, scenario, verdict, dispatch,
sync, demo), the plants and order books they used, and the actuals from the floor.

The store is three layers, each in its own module, imported in one direction only:
`connection` (open, migrate, cursors, transactions) <- `reader` (the typed read API, over
`queries`, `floor_log` and `export`) <- `writer` (records) <- this facade, which callers use.

Concurrency (DuckDB's rule: one process holds a file read-write, and while it does no other
process may open it, not even read-only). The pattern:
- one HistoryStore per process and file; its methods may be called from many threads, each
  call runs on its own DuckDB cursor (`transaction()` pins one cursor to the calling thread);
- a long-running service (sync, dashboard) owns the read-write store and publishes Parquet
  snapshots (`publish_snapshot`) that other processes read with `HistoryStore.open_snapshot`;
- a process that finds the file held gets `HistoryLockedError` naming the holder.
"""

from __future__ import annotations

from twin.history.schema import RUN_TABLES, TABLES
from twin.history.writer import HistoryWriter

__all__ = ["RUN_TABLES", "TABLES", "HistoryStore"]


class HistoryStore(HistoryWriter):
    """The history of plantwin in one DuckDB file: `HistoryReader`'s reads and
    `HistoryWriter`'s writes over one `HistoryConnection` (see the module docstring).

    Use as a context manager, or call close(). Writes are bulk (Arrow) inserts inside one
    transaction per call; wrap several calls in `transaction()` to make them one unit.
    """
