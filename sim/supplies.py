"""Secondary resources (operators, tools) and materials (stock, deliveries, reorders) during a run."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from sim.model import PlantModel

_EPS = 1e-9


class Pool:
    """A secondary resource (operators, tools): a counter with a FIFO of waiting requests."""

    __slots__ = ("env", "free", "id", "waiting")

    def __init__(self, env: simpy.Environment, pool_id: str, capacity: int) -> None:
        self.env = env
        self.id = pool_id
        self.free = capacity
        self.waiting: deque[tuple[int, simpy.Event]] = deque()

    def acquire(self, n: int) -> simpy.Event | None:
        if not self.waiting and self.free >= n:
            self.free -= n
            return None
        ev = self.env.event()
        self.waiting.append((n, ev))
        return ev

    def release(self, n: int) -> None:
        self.free += n
        while self.waiting and self.waiting[0][0] <= self.free:
            need, ev = self.waiting.popleft()
            self.free -= need
            ev.succeed()


class Material:
    """A component's stock under the reorder-point rule (docs/simulator.md, "Materials").

    A lot *allocates* its whole need when it arrives at the station of an operation that
    consumes the material, and *takes* it as one kit when it starts there (waiting, FIFO,
    while the stock is short). When the stock not allocated falls to the reorder point and
    no reorder is outstanding, the replenishment quantity is ordered; it arrives after the
    lead time, and a stock still at or below the point orders again at once. The planner
    (`planner.reorders`) places reorders by the same rule.
    """

    __slots__ = ("allocated", "env", "id", "model", "ordered", "replenish", "stock", "waiting")

    def __init__(self, model: PlantModel, material_id: str, stock: float, replenish: Any) -> None:
        self.model = model
        self.env = model.env
        self.id = material_id
        self.stock = stock
        self.allocated = 0.0
        self.replenish = replenish
        self.ordered = False
        self.waiting: deque[tuple[float, simpy.Event]] = deque()

    def allocate(self, qty: float) -> None:
        """A lot that will take `qty` arrived: the free stock drops (and may trigger a reorder)."""
        self.allocated += qty
        self._reorder()

    def take(self, qty: float) -> simpy.Event | None:
        """Take an allocated kit now (None) or when enough stock is there (the event)."""
        if not self.waiting and self.stock >= qty - _EPS:
            self.stock -= qty
            self.allocated -= qty
            self._changed()
            return None
        ev = self.env.event()
        self.waiting.append((qty, ev))
        self._reorder()
        return ev

    def add(self, qty: float) -> None:
        self.stock += qty
        while self.waiting and self.waiting[0][0] <= self.stock + _EPS:
            need, ev = self.waiting.popleft()
            self.stock -= need
            self.allocated -= need
            ev.succeed()
        self._changed()

    def review(self) -> None:
        """Order now if the free stock is at or below the reorder point (at the start of a run)."""
        self._reorder()

    def _changed(self) -> None:
        obs = self.model.observer
        if obs is not None:
            obs({"kind": "material", "time": self.env.now, "material": self.id, "stock": self.stock})
        self._reorder()

    def _reorder(self) -> None:
        rep = self.replenish
        if rep is not None and not self.ordered and self.stock - self.allocated <= rep.reorder_point + _EPS:
            self.ordered = True
            self.env.process(self._deliver_later(rep.lead_time, rep.quantity))

    def _deliver_later(self, delay: float, qty: float):
        yield self.env.timeout(delay)
        self.ordered = False
        self.add(qty)
