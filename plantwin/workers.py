"""Local worker processes for replications, re-plans and sweeps, started the same way everywhere.

Workers ignore Ctrl-C: a terminal sends SIGINT to the whole process group, and the service
that owns the pool shuts it down itself (a worker would otherwise die mid-task printing a
KeyboardInterrupt traceback). 'spawn' keeps workers independent of the parent's threads
(the OPC UA loop, the dashboard server).
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_pool(workers: int = 2, start: str = "spawn") -> ProcessPoolExecutor:
    """A pool of `workers` processes that leave Ctrl-C to their parent. `start="fork"` (a command
    with no threads of its own to inherit) saves the workers' imports: a second or more each."""
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context(start), initializer=_ignore_sigint
    )
