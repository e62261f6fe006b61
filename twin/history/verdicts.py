"""Verdicts in the history: recorded once, found by what they judged (schedule, plant, order book).

A verdict run is a row of `runs` (kind 'verdict', its `plant_hash` and `orders_hash` those the
verdict names) with the verdict itself in `verdicts`/`verdict_orders`. Nothing links a verdict
to a plan by parentage for the gate: `find_verdict(store, schedule, plant, book)` looks it up by
the three content hashes, so a schedule checked by `simulate`, by the planner's loop, by the
demo or by `whatif` is found the same way, and a schedule judged on another plant or with
another order book has no verdict. `record_verdict` refuses a verdict recorded under a plant or
book other than the ones it names.

The store is any `HistoryStore` (passed in; this module holds no connection of its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twin.errors import HistoryError
from twin.history.codec import loads
from twin.orders import Order, book_hash
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import Verdict

_HEAD = (
    "SELECT v.run_id, r.created_at, r.parent, r.params, r.plant_hash, r.orders_hash, v.schedule_hash, "
    "v.accepted, v.reasons, v.replications, v.seed, v.policy, v.makespans, v.station_utilisation, "
    "v.overloaded, v.starved FROM verdicts v JOIN runs r ON r.id = v.run_id"
)
_ORDERS = (
    "SELECT order_id, due, planned_completion, on_time_probability, ci_low, ci_high, mean_completion, "
    "mean_lateness, delay FROM verdict_orders WHERE run_id = ? ORDER BY order_id"
)


@dataclass(frozen=True)
class VerdictRecord:
    """A verdict as the history holds it: the verdict and the run that recorded it."""

    run_id: str
    created_at: datetime
    verdict: Verdict
    parent: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def record_verdict(
    store: Any,
    verdict: Verdict,
    *,
    plant: Plant,
    orders: Sequence[Order],
    started_by: str,
    schedule: Schedule | None = None,
    params: dict[str, Any] | None = None,
    parent: str | None = None,
) -> str:
    """Record the verdict (status 'ok' if accepted, else 'refused') in one transaction; its run id.

    Raises:
        HistoryError: the verdict names another plant, order book or schedule than those given.
    """
    digest, book = plant.content_hash(), book_hash(orders)
    about = f"verdict on schedule {verdict.schedule_hash[:12]}"
    if verdict.plant_hash != digest:
        raise HistoryError(
            f"{about} names plant {verdict.plant_hash[:12] or '(none)'}, not {plant.name} "
            f"({digest[:12]}): a verdict is recorded with the plant it judged"
        )
    if verdict.orders_hash != book:
        raise HistoryError(
            f"{about} names order book {verdict.orders_hash[:12] or '(none)'}, not {book[:12]}: "
            "a verdict is recorded with the order book it judged"
        )
    if schedule is not None and schedule.content_hash() != verdict.schedule_hash:
        raise HistoryError(f"{about} recorded with another schedule, {schedule.content_hash()[:12]}")
    kpis = {
        "accepted": verdict.accepted,
        "replications": verdict.replications,
        "min_on_time_probability": min((o.on_time_probability for o in verdict.orders), default=None),
    }
    with store.transaction():
        run_id = store.record_run(
            "verdict",
            started_by=started_by,
            plant=plant,
            orders=list(orders),
            params={"seed": verdict.seed, **(params or {})},
            kpis=kpis,
            parent=parent,
            status="ok" if verdict.accepted else "refused",
        )
        if schedule is not None:
            store.add_schedule(run_id, schedule)
        store.add_verdict(run_id, verdict)
    return str(run_id)


def _records(store: Any, where: str, args: list[Any], limit: int) -> list[VerdictRecord]:
    out = []
    with store._cursor() as cur:
        heads = cur.execute(
            f"{_HEAD} WHERE {where} ORDER BY r.created_at DESC, v.run_id DESC LIMIT ?", [*args, int(limit)]
        ).fetchall()
        for head in heads:
            rows = cur.execute(_ORDERS, [head[0]]).fetchall()
            out.append(_record(head, rows))
    return out


def _record(head: tuple[Any, ...], rows: list[tuple[Any, ...]]) -> VerdictRecord:
    (run_id, created, parent, params, plant_hash, orders_hash, digest, accepted, reasons, n, seed,
     policy, makespans, utilisation, over, starved) = head  # fmt: skip
    fields = ("order_id", "due", "planned_completion", "on_time_probability", "ci_low", "ci_high")
    fields += ("mean_completion", "mean_lateness")
    data = {
        "schedule_hash": digest,
        "accepted": accepted,
        "reasons": loads(reasons) or [],
        "orders": [dict(zip(fields, r[:8], strict=True)) | {"delay": loads(r[8]) or {}} for r in rows],
        "makespans": loads(makespans) or [],
        "replications": n,
        "seed": seed,
        "policy": loads(policy) or {},
        "station_utilisation": loads(utilisation) or {},
        "overloaded": loads(over) or [],
        "starved": loads(starved) or [],
        "plant_hash": plant_hash or "",
        "orders_hash": orders_hash or "",
    }
    return VerdictRecord(
        str(run_id),
        created,
        Verdict.from_dict(data),
        parent if isinstance(parent, str) else None,
        loads(params),
    )


def get_verdict(store: Any, run_id: str) -> VerdictRecord:
    """The verdict recorded by a run.

    Raises:
        HistoryError: no such run, or the run holds no verdict.
    """
    run_id = store.resolve_run(run_id)
    found = _records(store, "v.run_id = ?", [run_id], 1)
    if not found:
        raise HistoryError(f"run {run_id} holds no verdict")
    return found[0]


def verdicts_on(store: Any, schedule_hash: str, limit: int = 20) -> list[VerdictRecord]:
    """Every verdict on the schedule with this content hash (any plant, any book), newest first."""
    return _records(store, "v.schedule_hash = ?", [schedule_hash], limit)


def find_verdict(store: Any, schedule_hash: str, plant_hash: str, orders_hash: str) -> VerdictRecord | None:
    """The newest verdict on exactly this schedule, plant and order book (None: never checked so)."""
    found = _records(
        store,
        "v.schedule_hash = ? AND r.plant_hash = ? AND r.orders_hash = ?",
        [schedule_hash, plant_hash, orders_hash],
        1,
    )
    return found[0] if found else None


def latest_verdict_for(store: Any, plant_hash: str, orders_hash: str) -> VerdictRecord | None:
    """The newest verdict on any schedule for this plant and order book (what a schedule that has
    none may have been edited from)."""
    found = _records(store, "r.plant_hash = ? AND r.orders_hash = ?", [plant_hash, orders_hash], 1)
    return found[0] if found else None


@dataclass(frozen=True)
class ScheduleRun:
    """A run that holds a schedule: which, what kind, and the plant and order book it used."""

    run_id: str
    kind: str
    created_at: datetime
    schedule_hash: str
    plant_hash: str | None
    orders_hash: str | None


def schedule_runs(
    store: Any, *, schedule_hash: str | None = None, plant_hash: str | None = None, limit: int = 20
) -> list[ScheduleRun]:
    """Runs holding a schedule with this content hash, or made for this plant (the schedule's own
    plant hash), newest first."""
    where, args = [], []
    if schedule_hash is not None:
        where.append("s.content_hash = ?")
        args.append(schedule_hash)
    if plant_hash is not None:
        where.append("s.plant_hash = ?")
        args.append(plant_hash)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with store._cursor() as cur:
        rows = cur.execute(
            "SELECT r.id, r.kind, r.created_at, s.content_hash, r.plant_hash, r.orders_hash "
            f"FROM schedules s JOIN runs r ON r.id = s.run_id {clause} "
            "ORDER BY r.created_at DESC, r.id DESC LIMIT ?",
            [*args, int(limit)],
        ).fetchall()
    return [ScheduleRun(*row) for row in rows]
