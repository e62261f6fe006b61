"""The history file's connection: opening (and migrating) it, cursors per thread, transactions.

DuckDB's rule: one process holds a file read-write, and while it does no other process may
open it, not even read-only. One connection per process and file; its cursors may be used from
many threads, each call on its own cursor (`transaction()` pins one cursor to the calling thread).
A process that finds the file held gets `HistoryLockedError` naming the holder.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import duckdb
import pandas as pd

from twin.errors import HistoryError, HistoryLockedError
from twin.history.schema import SCHEMA_VERSION, TABLES, file_version, migrate
from twin.plant import Plant

_PID = re.compile(r"\(PID (\d+)\)")


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the file, turning DuckDB's lock errors into HistoryLockedError."""
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = _PID.search(text)
            holder = f"process {pid.group(1)}" if pid else "another process"
            raise HistoryLockedError(
                f"{path}: the history file is held for writing by {holder}. DuckDB allows one "
                "writer per file and no reader beside it: read through the service that holds it "
                "(its Parquet snapshot), wait for it to finish, or use another file (--db) or "
                "--no-history"
            ) from exc
        raise HistoryError(f"{path}: cannot open the history file: {exc}") from exc
    except duckdb.ConnectionException as exc:
        raise HistoryLockedError(
            f"{path}: this process already has the history file open in another mode; "
            "share one HistoryStore per process"
        ) from exc
    except duckdb.Error as exc:
        raise HistoryError(f"{path}: cannot open the history file: {exc}") from exc


class HistoryConnection:
    """An open history file (or a Parquet snapshot of one): cursors, transactions, lifetime.

    Use as a context manager, or call close(). The reading and writing methods live in
    `HistoryReader` and `HistoryWriter`, which build on this class; `HistoryStore` is all three.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        if read_only and self.path != ":memory:" and not Path(self.path).is_file():
            raise HistoryError(f"{self.path}: no history file there")
        if not read_only and self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = _connect(self.path, read_only)
        self.migrated: list[int] = []
        try:
            if read_only:
                have = file_version(con)
                if have != SCHEMA_VERSION:
                    raise HistoryError(
                        f"{self.path}: history schema version {have}, this plantwin reads {SCHEMA_VERSION}; "
                        "open it once read-write to migrate"
                        if have < SCHEMA_VERSION
                        else f"{self.path}: history schema version {have} is newer than this plantwin "
                        f"({SCHEMA_VERSION}); upgrade plantwin"
                    )
            else:
                self.migrated = migrate(con, self.path)
        except BaseException:
            con.close()
            raise
        self._setup(con)

    def _setup(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con: duckdb.DuckDBPyConnection | None = con
        self._local = threading.local()
        self._lock = threading.Lock()
        self._plants: dict[str, Plant] = {}

    @staticmethod
    def file_version(path: str | Path) -> int:
        """The schema version of an existing history file (0 if it has no schema yet).

        Raises:
            HistoryLockedError: another process holds the file.
            HistoryError: no file there.
        """
        if not Path(path).is_file():
            raise HistoryError(f"{path}: no history file there")
        con = _connect(str(path), read_only=True)
        try:
            return file_version(con)
        finally:
            con.close()

    @classmethod
    def open_snapshot(cls, directory: str | Path) -> Self:
        """A read-only store over a Parquet snapshot that a service published (same queries).

        Raises:
            HistoryError: no snapshot there.
        """
        root = Path(directory)
        current = root / "CURRENT"
        if not current.is_file():
            raise HistoryError(f"{root}: no history snapshot there")
        folder = root / current.read_text().strip()
        con = duckdb.connect(":memory:")
        for table in TABLES:
            file = folder / f"{table}.parquet"
            if not file.is_file():
                con.close()
                raise HistoryError(f"{folder}: snapshot lacks {table}.parquet")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{_sql_path(file)}')")
        # the order events were written in (ties in time; a view has no rowid): twin.history.kpis
        events = _sql_path(folder / "actual_events.parquet")
        con.execute(
            "CREATE VIEW actual_events_seq AS SELECT file_row_number AS seq, * "
            f"FROM read_parquet('{events}', file_row_number = true)"
        )
        store = cls.__new__(cls)
        store.path = str(folder)
        store.read_only = True
        store.migrated = []
        store._setup(con)
        return store

    # ---- lifetime ----
    def close(self) -> None:
        """Close the file (committed data is on disk; an open transaction is rolled back)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._cursor() as cur:
            return file_version(cur)

    # ---- cursors and transactions ----
    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                raise HistoryError(f"{self.path}: the history store is closed")
            return self._con.cursor()

    @contextmanager
    def _cursor(self, write: bool = False, atomic: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """The thread's transaction cursor if one is open, else a fresh cursor; a write runs in
        one transaction (`atomic=False` for a single statement, which DuckDB commits alone)."""
        tx = write and atomic
        if write and self.read_only:
            raise HistoryError(f"{self.path}: the history is open read-only")
        active = getattr(self._local, "tx", None)
        if active is not None:
            yield active
            return
        cur = self._new_cursor()
        try:
            if tx:
                cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                if tx:
                    cur.execute("ROLLBACK")
                raise
            if tx:
                cur.execute("COMMIT")
        except duckdb.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from exc
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """Make every write in the block (on this thread) one transaction: all or nothing."""
        if getattr(self._local, "tx", None) is not None:
            yield self
            return
        if self.read_only:
            raise HistoryError(f"{self.path}: the history is open read-only")
        cur = self._new_cursor()
        cur.execute("BEGIN TRANSACTION")
        self._local.tx = cur
        try:
            try:
                yield self
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        except duckdb.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from exc
        finally:
            self._local.tx = None
            cur.close()

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query and return its rows (for dashboards and ad-hoc analysis)."""
        with self._cursor() as cur:
            return cur.execute(query, params or []).df()


def _sql_path(path: Path) -> str:
    """A path as a single-quoted SQL string literal's body."""
    return str(path).replace("'", "''")
