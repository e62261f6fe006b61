"""The demo's side of the floor: a virtual plant whose clock waits for the first dispatch and can
be halted before shutdown, and a job order release window over the OPC UA job order receiver.

The release window is how an MES hands work to a floor that follows the dispatched sequence:
an order's job orders (all its operations, in routing order) are sent with StoreAndStart when
its first planned operation starts within `horizon` plant seconds. Work released is the
floor's and stays in its sequence; work not yet released follows the latest accepted plan, so
a rush order accepted later goes ahead of everything not yet released. Released work is the
re-planner's frozen horizon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from asyncua import Client

from sync.dispatch import Clearance
from sync.joborders import Job, JobOrderClient, Status, job_orders
from sync.virtual.server import VirtualPlant
from twin.errors import DispatchRefused
from twin.orders import Order, book_hash
from twin.plant import Plant
from twin.schedule import Schedule

log = logging.getLogger(__name__)


class HeldVirtualPlant(VirtualPlant):
    """A `VirtualPlant` whose clock stands still until `release_clock()` (the plan is made and
    checked against the plant at rest) and can be halted (`halt_clock()`) so the last counter
    values reach the sync client before the server stops."""

    async def start(self) -> None:
        self._go = asyncio.Event()
        await super().start()

    async def _run(self) -> None:
        await self._go.wait()
        await super()._run()

    def release_clock(self) -> None:
        self._go.set()

    async def halt_clock(self) -> None:
        """Stop the floor's clock and publish what it has pending; the server stays up."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        if self._pending:
            await self.flush_writes()

    def counters(self) -> dict[str, tuple[int, int]]:
        """(good, reject) per station: the floor's own cumulative counters."""
        assert self.floor is not None
        return {s: (self.floor.good[s], self.floor.reject[s]) for s in self.floor.good}


@dataclass
class ReleaseWindow:
    """Releases the orders of the accepted plan to the floor as their time comes (see module doc)."""

    plant: Plant
    receiver: JobOrderClient
    horizon: float
    released: dict[str, list[str]] = field(default_factory=dict)
    """Order id -> its job ids sent to the floor."""
    refused: dict[str, str] = field(default_factory=dict)
    _pending: list[tuple[float, str, list[Job]]] = field(default_factory=list)
    _started: dict[str, float] = field(default_factory=dict)
    _jobs: dict[tuple[str, int], Job] = field(default_factory=dict)

    def adopt(self, schedule: Schedule, clearance: Clearance, orders: Sequence[Order]) -> int:
        """Make `schedule` the one to release from, with the dispatch service's clearance for it
        (`DispatchService.clear`: an accepted verdict on exactly this schedule, plant and order
        book); orders already released stay as they are. Returns the number of orders waiting.

        Raises:
            DispatchRefused: the clearance is not an accepted verdict on exactly this schedule,
                plant and order book.
        """
        verdict = clearance.record.verdict
        if not verdict.judges(schedule.content_hash(), self.plant.content_hash(), book_hash(orders)):
            raise DispatchRefused(
                f"verdict {clearance.verdict_run} is not on this schedule, plant and order book",
                reason="schedule_changed",
                runs=(clearance.verdict_run,),
            )
        if not verdict.accepted:
            raise DispatchRefused(
                f"verdict {clearance.verdict_run} refused the schedule", reason="verdict_refused"
            )
        jobs = job_orders(schedule, orders)
        self._jobs.update({(j.order_id, j.op_index): j for j in jobs})
        first: dict[str, float] = {}
        by_order: dict[str, list[Job]] = {}
        for op, job in zip(schedule.operations, jobs, strict=True):
            if job.order_id in self.released:
                continue
            first[job.order_id] = min(first.get(job.order_id, op.start), op.start)
            by_order.setdefault(job.order_id, []).append(job)
        self._pending = sorted(
            (first[o], o, sorted(js, key=lambda j: j.op_index)) for o, js in by_order.items()
        )
        return len(self._pending)

    @property
    def waiting(self) -> int:
        return len(self._pending)

    async def release_due(self, client: Client, now: float) -> list[str]:
        """Send every waiting order whose first operation starts by `now + horizon`; their ids."""
        out = []
        while self._pending and self._pending[0][0] <= now + self.horizon:
            _, order_id, jobs = self._pending.pop(0)
            sent = []
            for job in jobs:
                status = await self.receiver.store_and_start(client, job)
                if status == Status.OK:
                    sent.append(job.job_id)
                else:
                    self.refused[job.job_id] = status.name
                    log.warning("job order %s refused by the floor: %s", job.job_id, status.name)
            self.released[order_id] = sent
            out.append(order_id)
        return out
