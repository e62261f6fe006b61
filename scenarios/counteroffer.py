"""Counter-offers for a refused rush order: the earliest date the check would accept, or the
asked date with the orders that would give way.

A planner who is told "no" needs the two answers a customer will ask for next: *when could
you?* and *what would it cost to keep my date?*. The first is capable-to-promise under
variability, judged by exactly the rule that refused the rush order (the rush order on time
in at least the policy's share of the same replications, and no existing order that met
the policy falling below it); the second is read off the refused variant itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from scenarios.report import OrderImpact
from scenarios.search import earliest_passing
from twin.timeutil import format_duration, to_datetime


@dataclass(frozen=True)
class Slip:
    """An existing order that would give way if the rush order kept its asked date."""

    order_id: str
    due: float
    on_time_before: float | None
    on_time_after: float | None
    lateness_before: float | None
    """Mean lateness over the replications (seconds), baseline plan; None when unknown."""
    lateness_after: float | None
    """The same with the rush order inserted at its asked date."""

    @property
    def slip(self) -> float | None:
        """How much later the order finishes past its due time on average (seconds)."""
        if self.lateness_before is None or self.lateness_after is None:
            return None
        return self.lateness_after - self.lateness_before

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "slip": self.slip}


@dataclass(frozen=True)
class CounterOffer:
    """The alternatives to a refused rush variant.

    `earliest_due` maps each rush order to the earliest due time (plant seconds, to
    `resolution`) at which the variant would be accepted; None when none within the search
    horizon is. `keep_date` lists the existing orders that slip when the asked dates stay.
    """

    asked_due: dict[str, float]
    earliest_due: dict[str, float] | None
    delay: float | None
    """How much later than asked the earliest acceptable due time is (seconds)."""
    keep_date: tuple[Slip, ...]
    candidates: tuple[tuple[float, bool], ...]
    """Every delay tried and whether it was accepted (the evidence of the search)."""
    resolution: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "asked_due": self.asked_due,
            "earliest_due": self.earliest_due,
            "delay": self.delay,
            "keep_date": [s.to_dict() for s in self.keep_date],
            "candidates": [{"delay": d, "accepted": ok} for d, ok in sorted(self.candidates)],
            "resolution": self.resolution,
            "notes": list(self.notes),
        }


def slips(
    existing: Sequence[OrderImpact],
    lateness_before: Mapping[str, float],
    lateness_after: Mapping[str, float],
    level: float,
) -> tuple[Slip, ...]:
    """Existing orders that met `level` in the baseline and fall below it with the rush order,
    most lateness added first."""
    out = [
        Slip(
            o.order_id,
            o.due,
            o.baseline,
            o.variant,
            lateness_before.get(o.order_id),
            lateness_after.get(o.order_id),
        )
        for o in existing
        if (o.baseline or 0.0) >= level and (o.variant or 0.0) < level
    ]
    out.sort(key=lambda s: (-(s.slip if s.slip is not None else 0.0), s.order_id))
    return tuple(out)


def counter_offer(
    accepted_with_delay: Callable[[float], bool],
    asked_due: Mapping[str, float],
    keep_date: tuple[Slip, ...],
    *,
    first_guess: float,
    resolution: float = 3600.0,
    max_delay: float = 14 * 86400.0,
) -> CounterOffer:
    """Search the smallest delay of the rush orders' due times that `accepted_with_delay` accepts.

    `accepted_with_delay(d)` re-plans and re-checks the variant with every rush order's due
    time moved `d` seconds later (the caller's judge, so the offer is accepted when
    re-checked the same way). `first_guess` is the first delay tried after the asked date
    failed (for instance the rush order's mean lateness).
    """
    tried: dict[float, bool] = {0.0: False}  # the asked date was refused: that is why we are here

    def passes(delay: float) -> bool:
        if delay not in tried:
            tried[delay] = accepted_with_delay(delay)
        return tried[delay]

    # The search runs on the delay axis: "now" is a delay of zero, the asked date.
    delay, notes = earliest_passing(
        passes,
        0.0,
        now=0.0,
        first_try=max(first_guess, resolution),
        resolution=resolution,
        horizon=max_delay,
        what="an accepted check (searched as a delay of the asked date)",
    )
    earliest = {oid: due + delay for oid, due in asked_due.items()} if delay is not None else None
    return CounterOffer(
        asked_due=dict(asked_due),
        earliest_due=earliest,
        delay=delay,
        keep_date=keep_date,
        candidates=tuple(tried.items()),
        resolution=resolution,
        notes=tuple(notes),
    )


def describe(offer: CounterOffer, epoch: datetime) -> list[str]:
    """The counter-offer in plain sentences (the CLI, the demo, `serve` and the dashboard say it
    the same way)."""
    when = lambda t: to_datetime(t, epoch).strftime("%a %d %b %H:%M")  # noqa: E731
    asked = ", ".join(f"{oid} {when(t)}" for oid, t in sorted(offer.asked_due.items()))
    lines = []
    if offer.earliest_due is not None and offer.delay is not None:
        new = ", ".join(f"{oid} {when(t)}" for oid, t in sorted(offer.earliest_due.items()))
        lines.append(
            f"counter-offer: due {new} would be accepted ({format_duration(offer.delay)} later than "
            f"asked, to within {format_duration(offer.resolution)})"
        )
    else:
        lines.append("counter-offer: no later due date within the search horizon would be accepted")
    if offer.keep_date:
        gives = "; ".join(
            f"{s.order_id} (due {when(s.due)}"
            + (f", {format_duration(s.slip)} later on average" if s.slip is not None else "")
            + f", on time {(s.on_time_after or 0.0):.0%})"
            for s in offer.keep_date
        )
        lines.append(f"to keep {asked}: {len(offer.keep_date)} orders would slip: {gives}")
    else:
        lines.append(f"to keep {asked}: no existing order would slip, the rush order itself is late")
    lines.extend(f"note: {n}" for n in offer.notes)
    return lines
