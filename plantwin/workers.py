"""Local worker processes for replications, re-plans and sweeps, started the same way everywhere.

The pool is `sim.pool.worker_pool`: workers ignore Ctrl-C (the service that owns the pool
shuts it down itself; a worker would otherwise die mid-task printing a KeyboardInterrupt
traceback), and end by themselves when their parent dies any way (SIGTERM, kill -9), so no
orphan keeps computing. 'spawn' keeps workers independent of the parent's threads (the OPC UA
loop, the dashboard server).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from sim.pool import stop_pool, worker_pool

__all__ = ["process_pool", "stop_pool"]


def process_pool(workers: int = 2, start: str = "spawn") -> ProcessPoolExecutor:
    """A pool of `workers` processes that leave Ctrl-C to their parent and die with it.
    `start="fork"` (a command with no threads of its own to inherit) saves the workers'
    imports: a second or more each."""
    return worker_pool(workers, spawn=start == "spawn")
