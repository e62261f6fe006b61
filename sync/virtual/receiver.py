"""The virtual plant's job order receiver: every OPC 10031-4 method, its state check and its effect
on the floor (no OPC UA here; `sync.virtual.server` binds these to the address space).

The state machine is `sync.joborders.TRANSITIONS` (the contract both sides share); this module
adds what the floor does:

- Store: nothing on the floor yet.
- StoreAndStart, Start: the operation is planned on the job's machine.
- RevokeStart, Cancel: the plan is withdrawn and the lot held at its station (no machine takes
  it until it is started again); refused with INVALID_COMMAND once a machine has taken it.
- Update: in AllowedToStart, withdrawn and planned again as the new job order says; a new
  quantity for an order the floor has already released is refused (INVALID_COMMAND).
- Pause, Resume: the machine holds after its current unit (Held), then goes on.
- Stop, Abort: the operation ends after the current unit; Stop hands the units made on,
  Abort hands nothing on (the lot ends there).
- Clear: the job order is forgotten.
"""

from __future__ import annotations

import logging

from sync.joborders import (
    TAKES_JOB_ORDER,
    Job,
    JobBook,
    JobState,
    Method,
    Status,
    job_from_json,
)
from sync.virtual.simfloor import SimFloor
from twin.plant import Plant

log = logging.getLogger(__name__)


class JobReceiver:
    """The receiver's book plus the floor it commands."""

    def __init__(self, plant: Plant, floor: SimFloor | None, book: JobBook | None = None) -> None:
        self.plant = plant
        self.floor = floor
        self.book = book or JobBook()

    def parse(self, text: str) -> Job | Status:
        """A job order from its JSON, checked against the plant, or the status refusing it."""
        try:
            job = job_from_json(text)
        except (ValueError, KeyError, TypeError) as exc:
            log.info("job order refused: %s", exc)
            return Status.INVALID_JOB_ORDER
        station = self.plant.station_map.get(job.station)
        product = self.plant.product_map.get(job.product)
        if station is None or job.machine >= station.machines:
            return Status.UNKNOWN_EQUIPMENT
        if product is None or job.op_index >= len(product.routing):
            return Status.INVALID_JOB_ORDER
        if station.id not in product.routing[job.op_index].stations:
            return Status.UNKNOWN_EQUIPMENT
        return job

    def call(self, method: Method, argument: str) -> Status:
        """Carry out one method call (`argument`: a JobOrder JSON or a JobOrderID)."""
        job: Job | None = None
        if method in TAKES_JOB_ORDER:
            parsed = self.parse(argument)
            if isinstance(parsed, Status):
                return parsed
            job, job_id = parsed, parsed.job_id
        else:
            job_id = argument
        if method in (Method.STORE, Method.STORE_AND_START):
            assert job is not None
            status = self.book.store(job, start=method == Method.STORE_AND_START)
            if status == Status.OK and method == Method.STORE_AND_START:
                self._submit(job)
            return status
        status = self.book.allowed(method, job_id)
        if status != Status.OK:
            return status
        status = self._on_floor(method, job_id, job)
        if status != Status.OK:
            return status
        return self.book.apply(method, job_id, job)

    def _on_floor(self, method: Method, job_id: str, new: Job | None) -> Status:
        """The floor's part of a method the book allows; INVALID_COMMAND when the floor cannot."""
        floor = self.floor
        old = self.book.jobs[job_id]
        state = self.book.states[job_id]
        if floor is None:
            return Status.OK
        if method == Method.START:
            self._submit(old)
            return Status.OK
        if method in (Method.REVOKE_START, Method.CANCEL):
            if state == JobState.ALLOWED_TO_START and not floor.withdraw(old):
                return Status.INVALID_COMMAND
            return Status.OK
        if method == Method.UPDATE:
            assert new is not None
            if new.order_id != old.order_id or new.op_index != old.op_index or new.product != old.product:
                return Status.INVALID_JOB_ORDER
            known = floor.model.orders.get(new.order_id)
            if known is not None and known.order.quantity != new.quantity:
                return Status.INVALID_COMMAND  # the floor has released the order at its first size
            if state == JobState.ALLOWED_TO_START:
                if not floor.withdraw(old):
                    return Status.INVALID_COMMAND
                self._submit(new)
            return Status.OK
        if method == Method.PAUSE:
            return Status.OK if floor.pause(old) else Status.INVALID_COMMAND
        if method == Method.RESUME:
            return Status.OK if floor.resume(old) else Status.INVALID_COMMAND
        if method in (Method.STOP, Method.ABORT):
            return Status.OK if floor.end(old, abort=method == Method.ABORT) else Status.INVALID_COMMAND
        return Status.OK  # Clear: nothing on the floor

    def _submit(self, job: Job) -> None:
        if self.floor is not None:
            self.floor.submit(job)
