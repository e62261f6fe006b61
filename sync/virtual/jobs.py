"""Job orders as the virtual plant receives them: a documented subset of ISA-95 job control.

OPC 10031-4 (ISA-95 job control), as reused by OPC 40001-3 Machinery job management,
defines a job order receiver with methods Store, StoreAndStart, Start, Update, Stop,
Cancel, Clear, Pause, Resume, Abort, RevokeStart. The virtual plant implements Store,
StoreAndStart, Start, Cancel and Clear, with the job states

    Store ──> NotAllowedToStart ──Start──> AllowedToStart ──(machine picks it)──> Running ──> Ended
                 │                            │
                 └──────────Cancel────────────┴──> Aborted            Clear: forget Ended/Aborted

A job order travels as a JSON string (the spec's ISA95JobOrderDataType is a structure;
a string keeps the receiver usable from any client without custom data types). Every
method returns a ReturnStatus (UInt64): 0 is success, the other codes are in `Status`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import IntEnum, StrEnum
from typing import Any

from sync.virtual.floor import Job


class JobState(StrEnum):
    NOT_ALLOWED_TO_START = "NotAllowedToStart"
    ALLOWED_TO_START = "AllowedToStart"
    RUNNING = "Running"
    ENDED = "Ended"
    ABORTED = "Aborted"


class Status(IntEnum):
    """ReturnStatus of the job order methods (0 = OK)."""

    OK = 0
    UNKNOWN_JOB_ORDER = 1
    INVALID_JOB_ORDER = 2
    INVALID_STATE = 3
    DUPLICATE_JOB_ORDER = 4
    UNKNOWN_EQUIPMENT = 5


JOB_FIELDS = ("job_id", "order_id", "product", "op_index", "operation", "station", "machine", "quantity")


def job_to_json(job: Job) -> str:
    return json.dumps(asdict(job), sort_keys=True)


def job_from_json(text: str) -> Job:
    """Raises ValueError/KeyError/TypeError on a malformed job order."""
    data: dict[str, Any] = json.loads(text)
    missing = [f for f in JOB_FIELDS if f not in data]
    if missing:
        raise KeyError(f"job order misses {', '.join(missing)}")
    job = Job(
        job_id=str(data["job_id"]),
        order_id=str(data["order_id"]),
        product=str(data["product"]),
        op_index=int(data["op_index"]),
        operation=str(data["operation"]),
        station=str(data["station"]),
        machine=int(data["machine"]),
        quantity=int(data["quantity"]),
    )
    if job.quantity < 1 or job.op_index < 0 or job.machine < 0:
        raise ValueError("job order: quantity >= 1, op_index >= 0 and machine >= 0 required")
    return job


@dataclass
class JobBook:
    """The receiver's list of job orders and their states (no IO)."""

    def __post_init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.states: dict[str, JobState] = {}

    def store(self, job: Job) -> Status:
        if job.job_id in self.jobs:
            return Status.DUPLICATE_JOB_ORDER
        self.jobs[job.job_id] = job
        self.states[job.job_id] = JobState.NOT_ALLOWED_TO_START
        return Status.OK

    def start(self, job_id: str) -> Status:
        state = self.states.get(job_id)
        if state is None:
            return Status.UNKNOWN_JOB_ORDER
        if state != JobState.NOT_ALLOWED_TO_START:
            return Status.INVALID_STATE
        self.states[job_id] = JobState.ALLOWED_TO_START
        return Status.OK

    def cancel(self, job_id: str) -> Status:
        state = self.states.get(job_id)
        if state is None:
            return Status.UNKNOWN_JOB_ORDER
        if state not in (JobState.NOT_ALLOWED_TO_START, JobState.ALLOWED_TO_START):
            return Status.INVALID_STATE
        self.states[job_id] = JobState.ABORTED
        return Status.OK

    def clear(self, job_id: str) -> Status:
        state = self.states.get(job_id)
        if state is None:
            return Status.UNKNOWN_JOB_ORDER
        if state not in (JobState.ENDED, JobState.ABORTED):
            return Status.INVALID_STATE
        del self.states[job_id], self.jobs[job_id]
        return Status.OK

    def running(self, job_id: str) -> None:
        if self.states.get(job_id) == JobState.ALLOWED_TO_START:
            self.states[job_id] = JobState.RUNNING

    def ended(self, job_id: str) -> None:
        if self.states.get(job_id) == JobState.RUNNING:
            self.states[job_id] = JobState.ENDED

    def to_json(self) -> str:
        return json.dumps([{"JobOrderID": j, "State": s.value} for j, s in self.states.items()])
