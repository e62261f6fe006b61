"""The simulator's verdict on a schedule: per-order on-time probability, and accept or refuse.

A verdict names what it judged by content: the schedule's hash (`Schedule.content_hash`), the
plant's (`Plant.content_hash`) and the order book's (`twin.orders.book_hash`). A verdict is
about exactly those three; the history finds it by them, and the dispatch gate lets a schedule
go only to the plant and with the order book its accepted verdict names. It serialises itself
(`to_dict`/`from_dict`, `to_json`/`from_json`); there is no other encoding.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


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
    """The check of one schedule on one plant with one order book (all by content hash) under a policy."""

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
    plant_hash: str = field(default="", kw_only=True)
    """Content hash of the plant the schedule was simulated on."""
    orders_hash: str = field(default="", kw_only=True)
    """Content hash of the order book it was simulated with."""

    def order(self, order_id: str) -> OrderVerdict:
        for o in self.orders:
            if o.order_id == order_id:
                return o
        raise KeyError(order_id)

    def judges(self, schedule_hash: str, plant_hash: str, orders_hash: str) -> bool:
        """True if this verdict is about exactly that schedule, plant and order book."""
        return (self.schedule_hash, self.plant_hash, self.orders_hash) == (
            schedule_hash,
            plant_hash,
            orders_hash,
        )

    # ---- serialisation ----
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite numbers as None); `from_dict` reads it back."""
        return _finite(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """A verdict from `to_dict`'s form.

        Raises:
            KeyError, TypeError, ValueError: not a verdict.
        """
        if not isinstance(data, dict):
            raise TypeError("a verdict is a JSON object")
        policy = data.get("policy") or {}
        return cls(
            schedule_hash=str(data["schedule_hash"]),
            accepted=bool(data["accepted"]),
            reasons=tuple(str(r) for r in data.get("reasons") or ()),
            orders=tuple(_order_from_dict(o) for o in data.get("orders") or ()),
            makespans=tuple(_num(m, math.nan) for m in data.get("makespans") or ()),
            replications=int(data.get("replications", 0)),
            seed=int(data.get("seed", 0)),
            policy=AcceptancePolicy(
                min_on_time=float(policy.get("min_on_time", AcceptancePolicy.min_on_time)),
                service_level=None if policy.get("service_level") is None else float(policy["service_level"]),
            ),
            station_utilisation={
                str(k): float(v) for k, v in (data.get("station_utilisation") or {}).items()
            },
            overloaded=tuple(data.get("overloaded") or ()),
            starved=tuple(data.get("starved") or ()),
            plant_hash=str(data.get("plant_hash") or ""),
            orders_hash=str(data.get("orders_hash") or ""),
        )

    @classmethod
    def from_json(cls, text: str) -> Verdict:
        """Raises json.JSONDecodeError, KeyError, TypeError, ValueError: not a verdict."""
        return cls.from_dict(json.loads(text))


def _num(value: Any, missing: float) -> float:
    return missing if value is None else float(value)


def _order_from_dict(o: dict[str, Any]) -> OrderVerdict:
    planned = o.get("planned_completion")
    return OrderVerdict(
        order_id=str(o["order_id"]),
        due=_num(o.get("due"), math.inf),
        planned_completion=None if planned is None or planned != planned else float(planned),
        on_time_probability=float(o["on_time_probability"]),
        ci_low=float(o["ci_low"]),
        ci_high=float(o["ci_high"]),
        mean_completion=_num(o.get("mean_completion"), math.nan),
        mean_lateness=_num(o.get("mean_lateness"), 0.0),
        delay={str(k): float(v) for k, v in (o.get("delay") or {}).items()},
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
