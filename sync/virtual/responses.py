"""The virtual plant's job responses: what its floor reports per job order (see `sync.jobresponses`).

Fed with the simulator's records (operation start, unit, operation end) as they happen; the
lots waiting in (or for room in) a station's buffer are read from the floor when the list is
published. Every operation the floor works gets a response under its job order id 'ORDER/op',
whether a dispatched job order asked for it or the floor's dispatch rule chose it; a job order
the receiver holds takes its state from the receiver (so Interrupted, Aborted and
NotAllowedToStart show as such).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sync.joborders import JobBook, JobState, job_id_of
from sync.jobresponses import JobResponse
from twin.plant import Plant


@dataclass
class _Progress:
    order_id: str
    op_index: int
    operation: str
    station: str
    machine: int
    planned: int
    start: float
    end: float | None = None
    good: int = 0
    scrapped: int = 0
    consumed: dict[str, float] = field(default_factory=dict)


def waiting_lots(model: Any, started: Container[tuple[str, int]]) -> Iterator[tuple[str, int, str]]:
    """(order, op_index, station) of every main lot at a station that has not started there: in
    its buffer, waiting for room in it, or taken by a machine that waits (shift, operator, tool).
    `started` holds the (order, op_index) whose operation has started."""
    for st in model.stations.values():
        lots = [*st.queue, *st.waiting.values(), *(lot for lot, _ev, _t in st.blocked)]
        lots += [m.lot for m in st.machines if m.lot is not None and m.lot.key not in started]
        for lot in lots:
            if lot.kind == "main":
                yield lot.order.order.id, lot.op_index, st.id


class ResponseLedger:
    """Job responses of the floor `model` (a `sim.model.PlantModel`), with states from `book`."""

    def __init__(
        self, plant: Plant, model: Any, book: JobBook, *, stamp: Callable[[float], datetime] | None = None
    ):
        self.plant = plant
        self.model = model
        self.book = book
        self._stamp = stamp or (lambda t: plant.epoch + timedelta(seconds=t))
        self._ops: dict[tuple[str, int], _Progress] = {}
        self.version = 0
        """Bumped on every change the records bring (the waiting lots are read when asked)."""

    def on_record(self, rec: dict[str, Any]) -> None:
        kind = rec["kind"]
        self.version += 1  # any record may move a lot (release, hand-on): the list is re-read
        if kind not in ("operation_start", "unit", "operation_end"):
            return
        key = (rec["order_id"], int(rec["op_index"]))
        if kind == "operation_start":
            old = self._ops.get(key)
            p = _Progress(
                key[0],
                key[1],
                rec["operation"],
                rec["station"],
                int(rec["machine"]),
                int(rec["quantity"]),
                float(rec["time"]),
            )
            if old is not None:  # resumed after a restart, or a re-made/reworked lot at the operation
                p.good, p.scrapped, p.consumed, p.start = old.good, old.scrapped, old.consumed, old.start
                if old.end is not None:
                    p.planned += old.planned
                else:
                    p.planned = old.planned
            self._ops[key] = p
        elif kind == "unit":
            p = self._ops[key]
            p.good += int(rec["good"])
            p.scrapped += int(rec["scrap"]) + int(rec["rework"])
            for material, q in self._consumes(key).items():
                p.consumed[material] = p.consumed.get(material, 0.0) + q
        else:
            self._ops[key].end = float(rec["time"])

    def to_state(self) -> list[dict[str, Any]]:
        """The ledger as JSON-ready rows (saved with the plant's retentive state)."""
        return [dict(vars(p)) for p in self._ops.values()]

    def restore(self, rows: list[dict[str, Any]]) -> None:
        """Take back what `to_state` saved."""
        for row in rows:
            p = _Progress(**row)
            self._ops[(p.order_id, p.op_index)] = p

    def _consumes(self, key: tuple[str, int]) -> dict[str, float]:
        os_ = self.model.orders.get(key[0])
        if os_ is None:
            return {}
        return dict(self.plant.product_map[os_.order.product].routing[key[1]].consumes)

    def responses(self) -> list[JobResponse]:
        """Every job order's response now, in job id order."""
        out: dict[str, JobResponse] = {}
        for key, p in self._ops.items():
            state = JobState.ENDED if p.end is not None else JobState.RUNNING
            out[job_id_of(*key)] = JobResponse(
                job_id=job_id_of(*key),
                state=state.value,
                order_id=p.order_id,
                op_index=p.op_index,
                operation=p.operation,
                station=p.station,
                machine=p.machine,
                planned=p.planned,
                good=p.good,
                scrapped=p.scrapped,
                start=self._stamp(p.start),
                end=self._stamp(p.end) if p.end is not None else None,
                consumed=dict(p.consumed),
            )
        running = {k for k, p in self._ops.items() if p.end is None}
        for order_id, op_index, station in waiting_lots(self.model, running):
            job_id = job_id_of(order_id, op_index)
            if job_id in out and out[job_id].state == JobState.RUNNING.value:
                continue  # a re-made lot waits while the first is still worked: the job is running
            os_ = self.model.orders[order_id]
            out[job_id] = JobResponse(
                job_id=job_id,
                state=JobState.ALLOWED_TO_START.value,
                order_id=order_id,
                op_index=op_index,
                operation=self.plant.product_map[os_.order.product].routing[op_index].id,
                station=station,
                waiting_at=station,
                planned=os_.order.quantity,
            )
        for job_id, job in self.book.jobs.items():
            state = self.book.states[job_id]
            r = out.get(job_id)
            if r is None:
                r = JobResponse(
                    job_id=job_id,
                    state=state.value,
                    order_id=job.order_id,
                    op_index=job.op_index,
                    operation=job.operation,
                    station=job.station,
                    machine=job.machine,
                    planned=job.quantity,
                )
            elif r.state != JobState.ENDED.value or state == JobState.ABORTED:
                r = replace(r, state=state.value)
            out[job_id] = r
        return [out[j] for j in sorted(out)]
