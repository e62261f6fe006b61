"""Opening the history for a write when another process may hold it: wait a bounded time, then
save beside it, never throw a finished result away.

DuckDB lets one process hold a file. A command records its run at the end, in one short
transaction, so two commands on one history usually only brush past each other: the one
that finds the file held retries with back-off for up to `lock_wait()` seconds
($PLANTWIN_LOCK_WAIT, default 20). If the holder keeps the file longer (a service, a long
`sync`), the run is written to a history file of its own beside the held one,
`<history>.pending/<UTC time>-<pid>.duckdb`, and the command says where on stderr; that
file is a complete history, read with `--db FILE`.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from plantwin.common import err_console
from twin.errors import HistoryLockedError
from twin.history import HistoryStore

ENV_LOCK_WAIT = "PLANTWIN_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 20.0


def lock_wait() -> float:
    """Seconds to wait for a held history: $PLANTWIN_LOCK_WAIT (0 to 3600), else 20."""
    text = os.environ.get(ENV_LOCK_WAIT, "")
    try:
        value = float(text) if text else DEFAULT_LOCK_WAIT
    except ValueError:
        return DEFAULT_LOCK_WAIT
    return min(max(value, 0.0), 3600.0) if value == value else DEFAULT_LOCK_WAIT


def pending_path(path: Path) -> Path:
    """A fresh file beside `path` for a run that could not wait for it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(str(path) + ".pending") / f"{stamp}-{os.getpid()}.duckdb"


def open_for_write(path: Path, wait: float | None = None) -> HistoryStore:
    """The history at `path` for writing; if another process holds it for `wait` seconds
    (default `lock_wait()`), a new history file beside it (said on stderr).

    Raises:
        HistoryError: the file cannot be opened for another reason (not a lock).
    """
    wait = lock_wait() if wait is None else wait
    deadline = time.monotonic() + wait
    pause = 0.05
    said = False
    while True:
        try:
            return HistoryStore(path)
        except HistoryLockedError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                side = pending_path(path)
                err_console.print(
                    f"plantwin: note: {exc}\nplantwin: note: waited {wait:g} s; saving this run in {side} "
                    f"instead (a history of its own: read it with --db {side})",
                    highlight=False,
                    markup=False,
                    soft_wrap=True,
                )
                return HistoryStore(side)
            if not said:
                err_console.print(
                    f"plantwin: note: {path} is held by another process; waiting up to {wait:g} s to record",
                    highlight=False,
                    markup=False,
                    soft_wrap=True,
                )
                said = True
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)
