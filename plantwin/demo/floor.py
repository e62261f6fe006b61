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
from dataclasses import dataclass, field, replace

from asyncua import Client

from sync.dispatch import check_dispatchable
from sync.joborders import Job, JobOrderClient, Status, job_key, job_orders
from sync.virtual.server import VirtualPlant
from twin.live import LiveState, OperationProgress
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import Verdict

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

    def adopt(self, schedule: Schedule, verdict: Verdict | None, orders: Sequence[Order]) -> int:
        """Make `schedule` the one to release from (only with an accepted verdict on exactly it);
        orders already released stay as they are. Returns the number of orders waiting.

        Raises:
            DispatchRefused: no verdict, a verdict for another schedule, or a refused verdict.
        """
        check_dispatchable(schedule, verdict)
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

    async def live_with_jobs(self, client: Client, live: LiveState) -> LiveState:
        """The sync client's live state plus what the job receiver says (see `live_from_jobs`)."""
        states, _ = await self.receiver.job_states(client)
        where = {k: (j.station, j.machine) for k, j in self._jobs.items()}
        return live_from_jobs(live, states, where, self._started)


def live_from_jobs(
    live: LiveState,
    states: dict[str, str],
    where: dict[tuple[str, int], tuple[str, int]],
    started: dict[str, float],
) -> LiveState:
    """`live` plus the job receiver's view: jobs 'ORDER/op' Ended are completed, Running ones in
    progress on their (station, machine) from `where`, started when first seen running (kept in
    `started`); units done are unknown and taken as 0."""
    completed, running = set(), []
    for job_id, state in states.items():
        key = job_key(job_id)
        if key is None:
            continue
        order_id = key[0]
        if state == "Ended":
            completed.add(key)
        elif state == "Running" and key in where:
            t0 = started.setdefault(job_id, live.time)
            station, machine = where[key]
            running.append(OperationProgress(order_id, key[1], station, machine, t0))
    return replace(live, in_progress=tuple(running), completed=frozenset(completed))
