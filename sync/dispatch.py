"""Dispatch: send a schedule to the floor's job order receiver, only with an accepted verdict.

The gate (`check_dispatchable`) is plain data: a schedule goes out only together with a
`Verdict` of the simulator that accepted exactly this schedule (`verdict.schedule_hash ==
schedule.content_hash()`); otherwise `DispatchRefused` says why. Each scheduled operation
becomes one job order (`sync.joborders`), sent with StoreAndStart in schedule order
(each machine works its jobs in the order received). Every attempt, refused or sent, is
recorded as a run of kind "dispatch" when a recorder is given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Client

from sync.joborders import JobOrderClient, Status, job_orders
from sync.sink import RunRecorder
from twin.errors import DispatchRefused, InputError, Issue
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict

log = logging.getLogger(__name__)


def check_dispatchable(schedule: Schedule, verdict: Verdict | None) -> None:
    """Pass silently, or raise DispatchRefused naming the reason.

    Raises:
        DispatchRefused: no verdict, a verdict for another schedule, or a refused verdict.
    """
    digest = schedule.content_hash()
    if verdict is None:
        raise DispatchRefused(
            f"schedule {digest[:12]} has no verdict: check it with the simulator first (only a schedule "
            "the simulator accepted is sent to the floor)"
        )
    if verdict.schedule_hash != digest:
        raise DispatchRefused(
            f"the verdict is for schedule {verdict.schedule_hash[:12]}, not for this schedule {digest[:12]}: "
            "the schedule changed after it was checked; check it again"
        )
    if not verdict.accepted:
        why = "; ".join(verdict.reasons) or "no reason given"
        raise DispatchRefused(f"the simulator refused schedule {digest[:12]}: {why}")


@dataclass
class DispatchResult:
    """What the receiver answered: job ids accepted and refused (with ReturnStatus names)."""

    schedule_hash: str
    sent: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.refused


class Dispatcher:
    """Sends schedules to the job order receiver at `receiver` (a browse path from Objects)."""

    def __init__(
        self, plant: Plant, *, recorder: RunRecorder | None = None, receiver: str | None = None
    ) -> None:
        self.plant = plant
        self._recorder = recorder
        self._jobs = JobOrderClient.for_plant(plant, receiver=receiver, comment="plantwin dispatch")

    async def dispatch(
        self, client: Client, schedule: Schedule, verdict: Verdict | None, orders: Sequence[Order]
    ) -> DispatchResult:
        """Check the gate, then StoreAndStart every job order; record the attempt.

        Raises:
            DispatchRefused: the gate refused (nothing was sent; the refusal is recorded).
            SyncError: the receiver cannot be found or a call failed at the protocol level.
        """
        digest = schedule.content_hash()
        try:
            check_dispatchable(schedule, verdict)
            jobs = job_orders(schedule, orders)
        except DispatchRefused as exc:
            self._record(digest, verdict, orders, status="refused", params={"reason": str(exc)})
            raise
        result = DispatchResult(digest)
        for job in jobs:
            status = await self._jobs.store_and_start(client, job)
            if status == Status.OK:
                result.sent.append(job.job_id)
            else:
                result.refused[job.job_id] = status.name
        result.run_id = self._record(
            digest,
            verdict,
            orders,
            status="ok" if result.ok else "partial",
            params={"sent": len(result.sent), "refused": result.refused},
        )
        return result

    def _record(
        self,
        digest: str,
        verdict: Verdict | None,
        orders: Sequence[Order],
        *,
        status: str,
        params: dict[str, object],
    ) -> str | None:
        if self._recorder is None:
            return None
        return str(
            self._recorder.record_run(
                "dispatch",
                started_by="sync",
                plant=self.plant,
                orders=list(orders),
                params={
                    "schedule_hash": digest,
                    "verdict_hash": verdict.schedule_hash if verdict is not None else None,
                    "verdict_accepted": verdict.accepted if verdict is not None else None,
                    **params,
                },
                status=status,
            )
        )


def verdict_from_dict(data: dict[str, Any]) -> Verdict:
    """A verdict from its JSON form (`dataclasses.asdict(verdict)`).

    Raises:
        KeyError, TypeError, ValueError: not a verdict.
    """
    orders = tuple(OrderVerdict(**o) for o in data.get("orders", ()))
    policy = (
        AcceptancePolicy(**data["policy"]) if isinstance(data.get("policy"), dict) else AcceptancePolicy()
    )
    return Verdict(
        schedule_hash=str(data["schedule_hash"]),
        accepted=bool(data["accepted"]),
        reasons=tuple(data.get("reasons", ())),
        orders=orders,
        makespans=tuple(data.get("makespans", ())),
        replications=int(data.get("replications", 0)),
        seed=int(data.get("seed", 0)),
        policy=policy,
        station_utilisation=dict(data.get("station_utilisation", {})),
        overloaded=tuple(data.get("overloaded", ())),
        starved=tuple(data.get("starved", ())),
    )


def load_verdict(path: str | Path) -> Verdict:
    """A verdict JSON file.

    Raises:
        InputError: unreadable or not a verdict.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        if isinstance(data.get("verdict"), dict):
            data = data["verdict"]
        return verdict_from_dict(data)
    except OSError as exc:
        raise InputError(Issue(f"cannot read: {exc.strerror}", str(p))) from None
    except json.JSONDecodeError as exc:
        raise InputError(Issue(f"not valid JSON: {exc.msg}", str(p), exc.lineno)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(Issue(f"not a plantwin verdict: {exc}", str(p))) from None
