"""The simulator's verdict on a schedule: per-order on-time probability, and accept or refuse."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AcceptancePolicy:
    """When a schedule may be dispatched.

    Every order must be on time in at least `min_on_time` of the replications;
    if `service_level` is set, the mean fraction of orders on time must reach it too.
    """

    min_on_time: float = 0.9
    service_level: float | None = None


@dataclass(frozen=True)
class OrderVerdict:
    """How one order fared over the replications."""

    order_id: str
    due: float
    planned_completion: float | None
    on_time_probability: float
    ci_low: float
    ci_high: float
    mean_completion: float
    mean_lateness: float
    """Mean of max(0, completion - due) over replications (seconds)."""
    delay: dict[str, float] = field(default_factory=dict)
    """Where waiting came from, mean seconds per replication by cause:
    queue:<station>, setup, breakdown, blocked, material, resource, off-shift."""


@dataclass(frozen=True)
class Verdict:
    """The check of one schedule (matched by content hash) under a policy."""

    schedule_hash: str
    accepted: bool
    reasons: tuple[str, ...]
    orders: tuple[OrderVerdict, ...]
    makespans: tuple[float, ...]
    replications: int
    seed: int
    policy: AcceptancePolicy
    station_utilisation: dict[str, float] = field(default_factory=dict)
    overloaded: tuple[str, ...] = ()
    starved: tuple[str, ...] = ()

    def order(self, order_id: str) -> OrderVerdict:
        for o in self.orders:
            if o.order_id == order_id:
                return o
        raise KeyError(order_id)
