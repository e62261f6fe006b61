"""The run's moving parts as plain records: orders under way, lots, compiled operations, state names."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from twin.orders import Order
from twin.states import MachineState

INF = math.inf
EXECUTE = MachineState.EXECUTE.value
SETUP = MachineState.SETUP.value
IDLE = MachineState.IDLE.value
STARVED = MachineState.STARVED.value
BLOCKED = MachineState.BLOCKED.value
HELD = MachineState.HELD.value
ABORTED = MachineState.ABORTED.value
MAINTENANCE = MachineState.MAINTENANCE.value
STOPPED = MachineState.STOPPED.value
BUSY = (EXECUTE, SETUP)
CAUSE = {STOPPED: "off-shift", MAINTENANCE: "maintenance", ABORTED: "breakdown"}
RULES = ("FIFO", "EDD", "SPT", "CR")
MAIN, REMAKE, REWORK = "main", "remake", "rework"
EPS = 1e-9

Observer = Callable[[dict[str, Any]], None]


class OrderState:
    """One order during the run: what is still open and where its time went."""

    __slots__ = ("alive", "completion", "delay", "family", "good", "info", "open_lots", "order", "scrapped")

    def __init__(self, order: Order, info: list[OpInfo], family: str) -> None:
        self.order = order
        self.info = info
        self.family = family
        self.good = 0
        self.scrapped = 0
        self.open_lots = 0
        self.alive = order.quantity
        """Units launched and not scrapped (in lots or finished good): a remake makes up only
        what this lacks of the order's quantity, so a planned scrap allowance is used first."""
        self.completion = math.nan
        self.delay: dict[str, float] = {}


class Feed:
    """Units of a lot still coming from its previous operation in transfer batches.

    `arrived`: units handed on so far; `closed`: the previous operation is done (the lot's
    `qty` is then final); `event`: fired when a batch arrives or the feed closes (the machine
    working the lot waits on it)."""

    __slots__ = ("arrived", "closed", "event")

    def __init__(self, arrived: int) -> None:
        self.arrived = arrived
        self.closed = False
        self.event: Any = None


class Lot:
    """Units of one order travelling together, now at routing position `op_index`.

    A lot that moves on in transfer batches has a `feed` at its next operation: it arrives
    there with its first batch, `qty` the units its previous operation started with until
    the feed closes and says how many came good."""

    __slots__ = ("allocated", "feed", "kind", "kit", "op_index", "order", "qty", "sent", "t_arrive")

    def __init__(self, order: OrderState, op_index: int, qty: int, kind: str, t: float) -> None:
        self.order = order
        self.op_index = op_index
        self.qty = qty
        self.kind = kind
        self.t_arrive = t
        self.allocated = -1
        """The operation whose material this lot has allocated (-1: none yet)."""
        self.kit: list[tuple[Any, float]] = []
        """(material, quantity) the lot takes when it starts that operation."""
        self.feed: Feed | None = None
        self.sent = 0
        """Good units already handed on to the next operation in transfer batches."""

    @property
    def units(self) -> int:
        """Units of the lot here now: arrived and not yet handed on."""
        arrived = self.feed.arrived if self.feed is not None else self.qty
        return arrived - self.sent

    @property
    def key(self) -> tuple[str, int]:
        return (self.order.order.id, self.op_index)


class OpInfo:
    """An operation of a product, compiled for the run: samplers, scrap stream, needs."""

    __slots__ = (
        "batch",
        "consumes",
        "id",
        "index",
        "mean",
        "next_station",
        "resources",
        "rework_share",
        "rework_to",
        "samplers",
        "scrap_rng",
        "simple",
        "stations",
        "transfer",
        "yield_",
    )
