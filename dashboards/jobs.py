"""Long work off the request thread: a small job runner that pages poll with `dcc.Interval`.

Why not Dash's background callbacks: they need a cache (diskcache or Celery + Redis) and run in
another process, which cannot share the history store's one read-write connection. A thread in
the serving process can, and polling one job id every second is cheap.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from twin.errors import PlantwinError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one job: progress 0..1, the current step, and the outcome when done."""

    job_id: str
    label: str
    progress: float = 0.0
    message: str = "queued"
    done: bool = False
    result: Any = None
    error: str | None = None


class JobRunner:
    """Runs jobs on a few worker threads and keeps their latest status (the last `keep` jobs)."""

    def __init__(self, workers: int = 1, keep: int = 50) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dashboard-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, JobStatus] = {}
        self._keep = keep

    def submit(self, label: str, work: Callable[[Callable[[float, str], None]], Any]) -> str:
        """Start `work(progress)` in the background; return the job id to poll."""
        job_id = uuid.uuid4().hex[:12]
        with self._lock:
            self._jobs[job_id] = JobStatus(job_id, label)
            while len(self._jobs) > self._keep:
                self._jobs.pop(next(iter(self._jobs)))

        def progress(fraction: float, message: str) -> None:
            self._update(job_id, progress=min(max(float(fraction), 0.0), 1.0), message=message)

        def run() -> None:
            try:
                result = work(progress)
            except PlantwinError as exc:  # a user-facing refusal: show the message
                self._update(job_id, done=True, error=str(exc), message="failed")
            except Exception as exc:  # keep the page alive; the log has the traceback
                log.exception("dashboard job %s (%s) failed", job_id, label)
                self._update(
                    job_id, done=True, error=f"internal error: {type(exc).__name__}: {exc}", message="failed"
                )
            else:
                self._update(job_id, done=True, progress=1.0, result=result, message="done")

        self._pool.submit(run)
        return job_id

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def status(self, job_id: str) -> JobStatus | None:
        """The latest status of a job, or None if unknown (never submitted, or forgotten)."""
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Stop accepting jobs and wait for running ones."""
        self._pool.shutdown(wait=True)
