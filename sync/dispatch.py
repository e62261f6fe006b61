"""The dispatch service: look the verdict up in the history -> gate -> send -> record.

There is one way a schedule reaches the floor, and the command line (`plantwin dispatch`), the
demo, `plantwin serve` and the dashboard all take it:

1. **what**: a `Target`, the schedule with the plant and order book it is for (`target_of_run`
   for a run of the history, `target_of_schedule` for a schedule file: the plant its
   `plant_hash` names, the order book of the plan that made it);
2. **lookup**: the newest verdict in the history on exactly that schedule, plant and order book,
   by content hashes (`twin.history.verdicts.find_verdict`); no client ever hands a verdict in;
3. **gate**: `clear` passes only an accepted verdict; otherwise `DispatchRefused` with a `reason`
   (no_verdict, verdict_refused, other_plant, other_orders, schedule_changed, misfit) and the
   runs involved, and the refusal is recorded;
4. **send**: one job order per scheduled operation, StoreAndStart in schedule order, through the
   one job order client (`sync.joborders.JobOrderClient`); a revised plan meets the job orders
   an earlier dispatch left on the receiver: those not started yet are updated to the new plan
   (Update) or, when it drops them, revoked (RevokeStart); started ones are left to the floor;
5. **record**: one 'dispatch' run per attempt, in one layout (`DispatchService.record`): parent
   the run the schedule came from, the schedule itself, params `schedule_hash`, `verdict_run`,
   `mode`, `reason`, `message`, `sent`, `refused`; status ok, partial, refused or failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import Client

from sync.joborders import NOT_STARTED, Job, JobOrderClient, JobState, Status, job_orders
from twin.errors import DispatchRefused, HistoryError, InputError, Issue, PlantwinError
from twin.fit import misfit_summary, misfits
from twin.history import HistoryStore
from twin.history.verdicts import (
    VerdictRecord,
    find_verdict,
    latest_verdict_for,
    schedule_runs,
    verdicts_on,
)
from twin.orders import Order, book_hash
from twin.plant import Plant
from twin.schedule import Schedule

SCHEDULE_KINDS = ("plan", "scenario", "simulation", "verdict", "dispatch")
"""Where a schedule file's order book is looked for, in this order of preference."""


@dataclass(frozen=True)
class Target:
    """What to send: a schedule, the plant and order book it is for, and the run it came from."""

    schedule: Schedule
    plant: Plant
    orders: tuple[Order, ...]
    source: str | None = None

    @property
    def hashes(self) -> tuple[str, str, str]:
        """(schedule, plant, order book) content hashes."""
        return self.schedule.content_hash(), self.plant.content_hash(), book_hash(self.orders)


@dataclass(frozen=True)
class Clearance:
    """The accepted verdict the gate found for a target."""

    verdict_run: str
    record: VerdictRecord


@dataclass
class DispatchResult:
    """What the receiver answered: job ids accepted and refused (with ReturnStatus names)."""

    schedule_hash: str
    verdict_run: str
    sent: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    updated: list[str] = field(default_factory=list)
    """Job orders of an earlier dispatch, not started yet, changed to this plan (Update)."""
    revoked: list[str] = field(default_factory=list)
    """Job orders of an earlier dispatch, not started yet and not in this plan (RevokeStart)."""
    kept: list[str] = field(default_factory=list)
    """Job orders already on the receiver as this plan has them, or already started."""

    @property
    def ok(self) -> bool:
        return not self.refused


def short(digest: str) -> str:
    return digest[:12] if digest else "(none)"


def target_of_run(store: HistoryStore, ref: str) -> Target:
    """The schedule a run holds, for the plant its schedule was made for, with the run's order book.

    Raises:
        InputError: no such run, or it holds no schedule, or its plant is not in the history.
    """
    try:
        run_id = store.resolve_run(ref)
        schedule = store.get_schedule(run_id)
        run = store.get_run(run_id)
    except HistoryError as exc:
        raise InputError(Issue(str(exc), "RUN_ID")) from None
    orders = tuple(store.get_orders(run_id))
    plant_hash = schedule.plant_hash or run.get("plant_hash") or ""
    return Target(schedule, _plant(store, plant_hash, f"run {run_id}"), orders, run_id)


def target_of_schedule(store: HistoryStore, schedule: Schedule, where: str = "SCHEDULE_FILE") -> Target:
    """A schedule (from a file) for the plant its `plant_hash` names, with the order book of the
    newest plan (else any run) in the history holding exactly this schedule; for a schedule no
    run holds, the book of the newest plan of the same plant over the same operations (so an
    edited plan is still judged against the verdict of the one it was edited from).

    Raises:
        InputError: the schedule names no plant, or a plant the history does not hold.
    """
    plant = _plant(store, schedule.plant_hash, where)
    digest = schedule.content_hash()
    runs = schedule_runs(store, schedule_hash=digest, limit=50)
    if not runs:
        keys = {op.key for op in schedule.operations}
        for cand in schedule_runs(store, plant_hash=schedule.plant_hash, limit=20):
            if cand.kind == "plan" and {op.key for op in store.get_schedule(cand.run_id).operations} == keys:
                runs = [cand]
                break
    runs = sorted(runs, key=lambda r: SCHEDULE_KINDS.index(r.kind) if r.kind in SCHEDULE_KINDS else 99)
    source = runs[0].run_id if runs else None
    orders = tuple(store.get_orders(source)) if source is not None else ()
    return Target(schedule, plant, orders, source)


def _plant(store: HistoryStore, plant_hash: str, where: str) -> Plant:
    if not plant_hash:
        raise InputError(Issue("the schedule names no plant (plant_hash): plan it with plantwin", where))
    try:
        return store.get_plant(plant_hash)
    except HistoryError:
        raise InputError(
            Issue(
                f"the plant the schedule was made for ({short(plant_hash)}) is not in the history "
                f"{store.path}: plan or check it with plantwin against this history (--db)",
                where,
            )
        ) from None


def check_clearance(store: HistoryStore, target: Target) -> Clearance:
    """The gate: the accepted verdict on exactly this schedule, plant and order book.

    Raises:
        DispatchRefused: why not (see the module docstring), naming the runs involved.
    """
    digest, plant_hash, orders_hash = target.hashes
    what = f"schedule {short(digest)}" + (f" (run {target.source})" if target.source else "")
    found = misfits(target.schedule, target.plant, target.orders) if target.orders else []
    if found:
        raise DispatchRefused(f"{what}: {misfit_summary(found, target.plant)}", reason="misfit")
    rec = find_verdict(store, digest, plant_hash, orders_hash)
    if rec is not None:
        if rec.verdict.accepted:
            return Clearance(rec.run_id, rec)
        why = "; ".join(rec.verdict.reasons) or "no reason given"
        raise DispatchRefused(
            f"{what}: the simulator refused it (verdict {rec.run_id}): {why}",
            reason="verdict_refused",
            runs=(rec.run_id,),
        )
    others = verdicts_on(store, digest)
    if others:
        ids = tuple(o.run_id for o in others)
        same_plant = [o for o in others if o.verdict.plant_hash == plant_hash]
        if not same_plant:
            plants = ", ".join(sorted({short(o.verdict.plant_hash) for o in others}))
            raise DispatchRefused(
                f"{what}: its verdicts ({', '.join(ids)}) are for another plant ({plants}), not for "
                f"{target.plant.name} ({short(plant_hash)}), the plant it was made for; "
                "check it on that plant",
                reason="other_plant",
                runs=ids,
            )
        ids = tuple(o.run_id for o in same_plant)
        books = ", ".join(sorted({short(o.verdict.orders_hash) for o in same_plant}))
        raise DispatchRefused(
            f"{what}: its verdicts ({', '.join(ids)}) judged another order book ({books}), not the one "
            f"it is dispatched with ({short(orders_hash)}, {len(target.orders)} orders); "
            "check it with this book",
            reason="other_orders",
            runs=ids,
        )
    held = any(r.kind != "dispatch" for r in schedule_runs(store, schedule_hash=digest, limit=50))
    before = latest_verdict_for(store, plant_hash, orders_hash) if target.orders and not held else None
    if before is not None:  # a schedule no run made or checked, with the book of one checked: edited
        raise DispatchRefused(
            f"{what} has no verdict: it changed since verdict {before.run_id}, which judged schedule "
            f"{short(before.verdict.schedule_hash)} for this plant and order book; check it again",
            reason="schedule_changed",
            runs=(before.run_id,),
        )
    raise DispatchRefused(
        f"{what} has no verdict in {store.path}: check it with the simulator first "
        "(plantwin simulate PLANT --schedule FILE); only a schedule it accepted is sent to the floor",
        reason="no_verdict",
        runs=(target.source,) if target.source else (),
    )


class DispatchService:
    """lookup -> gate -> send -> record over one history store (see the module docstring)."""

    def __init__(self, store: HistoryStore, *, started_by: str, receiver: str | None = None) -> None:
        self.store = store
        self.started_by = started_by
        self._receiver = receiver
        self._clients: dict[str, JobOrderClient] = {}

    def clear(self, target: Target, *, mode: str = "store_and_start") -> Clearance:
        """The gate; a refusal is recorded before it is raised.

        Raises:
            DispatchRefused: see `check_clearance`.
        """
        try:
            return check_clearance(self.store, target)
        except DispatchRefused as exc:
            self.record(target, status="refused", mode=mode, reason=exc.reason, message=str(exc))
            raise

    def jobs(self, plant: Plant) -> JobOrderClient:
        """The job order client of `plant`'s receiver (one per plant and service)."""
        key = plant.content_hash()
        if key not in self._clients:
            self._clients[key] = JobOrderClient.for_plant(
                plant, receiver=self._receiver, comment=self.started_by
            )
        return self._clients[key]

    async def dispatch(self, client: Client, target: Target) -> DispatchResult:
        """Gate, then StoreAndStart every job order in schedule order; record the attempt.

        Raises:
            DispatchRefused: the gate refused (nothing was sent; the refusal is recorded).
            SyncError: no receiver, or a call failed at the protocol level (what was sent by then
                is recorded as a failed dispatch).
        """
        clearance = self.clear(target)
        digest = target.schedule.content_hash()
        try:
            jobs = job_orders(target.schedule, target.orders)
        except DispatchRefused as exc:
            self.record(target, status="refused", clearance=clearance, reason="misfit", message=str(exc))
            raise DispatchRefused(str(exc), reason="misfit", runs=(clearance.verdict_run,)) from None
        result = DispatchResult(digest, clearance.verdict_run)
        receiver = self.jobs(target.plant)
        try:
            await self._send(client, receiver, jobs, result)
        except PlantwinError as exc:
            result.run_id = self.record(
                target, status="failed", clearance=clearance, message=str(exc),
                sent=result.sent, refused=result.refused,
            )  # fmt: skip
            raise
        result.run_id = self.record(
            target, status="ok" if result.ok else "partial", clearance=clearance,
            sent=result.sent, refused=result.refused,
            extra={"updated": result.updated, "revoked": result.revoked, "kept": len(result.kept)},
        )  # fmt: skip
        return result

    @staticmethod
    async def _send(
        client: Client, receiver: JobOrderClient, jobs: list[Job], result: DispatchResult
    ) -> None:
        """A revised plan meets the job orders already on the receiver: new ones StoreAndStart,
        changed ones not yet started Update (then Start if they had been revoked), those of the
        earlier plan that this one drops RevokeStart; started or finished ones are left alone."""
        current = await receiver.job_list(client)
        wanted = {j.job_id for j in jobs}

        def note(job_id: str, status: Status, into: list[str]) -> bool:
            if status == Status.OK:
                into.append(job_id)
                return True
            result.refused[job_id] = status.name
            return False

        for job in jobs:
            have = current.get(job.job_id)
            if have is None:
                note(job.job_id, await receiver.store_and_start(client, job), result.sent)
                continue
            state, old = have
            if state not in {s.value for s in NOT_STARTED} or old == job:
                if state == JobState.NOT_ALLOWED_TO_START.value:  # revoked earlier, wanted again
                    note(job.job_id, await receiver.start(client, job.job_id), result.updated)
                else:
                    result.kept.append(job.job_id)
                continue
            updated = note(job.job_id, await receiver.update(client, job), result.updated)
            if updated and state == JobState.NOT_ALLOWED_TO_START.value:
                status = await receiver.start(client, job.job_id)
                if status != Status.OK:
                    result.refused[job.job_id] = status.name
        for job_id, (state, _old) in current.items():
            if job_id not in wanted and state == JobState.ALLOWED_TO_START.value:
                note(job_id, await receiver.revoke_start(client, job_id), result.revoked)

    def record(
        self,
        target: Target,
        *,
        status: str,
        clearance: Clearance | None = None,
        mode: str = "store_and_start",
        reason: str | None = None,
        message: str | None = None,
        sent: Sequence[str] = (),
        refused: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Record one dispatch attempt (the one layout; see the module docstring); its run id."""
        with self.store.transaction():
            run_id = self.store.record_run(
                "dispatch",
                started_by=self.started_by,
                plant=target.plant,
                orders=list(target.orders),
                parent=target.source,
                params={
                    "schedule_hash": target.schedule.content_hash(),
                    "verdict_run": clearance.verdict_run if clearance is not None else None,
                    "mode": mode,
                    "reason": reason,
                    "message": message,
                    "sent": len(sent),
                    "refused": dict(refused or {}),
                    **(extra or {}),
                },
                status=status,
            )
            self.store.add_schedule(run_id, target.schedule)
        return str(run_id)
