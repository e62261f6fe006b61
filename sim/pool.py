"""The local process pool replications run on, whose workers never outlive the process that made it.

A worker ignores Ctrl-C (a terminal sends SIGINT to the whole process group; the owner of
the pool shuts it down) and watches its parent: when the parent is gone, however it ended
(Ctrl-C, SIGTERM, kill -9, a crash), the worker's parent pid changes and the worker exits
within `WATCH_INTERVAL` seconds instead of running on, orphaned, for good. A thread that
polls `os.getppid()` is used rather than Linux's PR_SET_PDEATHSIG, which fires when the
*thread* that started the worker ends, and a pool is often started from a worker thread.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import threading
import time

WATCH_INTERVAL = 0.25
"""Seconds between two looks at the parent pid."""


def _watch(parent: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL)
        if os.getppid() != parent:
            os._exit(1)  # nobody is left to take the result; skip the interpreter's cleanup


def worker_init(parent: int) -> None:
    """Initializer of every pool worker: ignore Ctrl-C, and end when `parent` is no longer the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent:  # the parent died while this worker was starting
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def worker_pool(workers: int = 2, *, spawn: bool = True) -> cf.ProcessPoolExecutor:
    """A pool of `workers` processes that leave Ctrl-C to their parent and die with it.

    'spawn' (the default) keeps workers independent of the parent's threads (an OPC UA loop,
    a dashboard server); `spawn=False` uses the platform's default start method.
    """
    context = multiprocessing.get_context("spawn") if spawn else None
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=worker_init, initargs=(os.getpid(),)
    )


def stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool now (after Ctrl-C or an error): drop queued work and end running workers,
    rather than wait for replications nobody will read."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle on the workers
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=2.0)
