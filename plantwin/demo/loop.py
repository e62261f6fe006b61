"""The closed loop in one process: virtual plant, sync client, history, planner, dispatch, dashboard.

    order book ──> plan_until_accepted (thread) ──> plan + verdict runs ──> accepted?
                                                                         │ yes
    HeldVirtualPlant <── release window (StoreAndStart) <── dispatch run ┘
          │ OPC UA
    SyncClient ──> actual values/events ──> HistoryStore <── dashboard (thread, same store)
          │ live state
    rush order (scripted) ──> replan + sim.check from the live state (thread) ──> dispatch or refusal

The history store is opened once, read-write, by this process (the one writer); the dashboard
reads through it. Planning and checking run on worker threads (CP-SAT releases the GIL, the
replications run in a process pool) so the asyncio loop keeps serving OPC UA.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from plantwin.demo.config import DemoConfig
from plantwin.demo.continuity import Carried, order_to_dict, state_dir, write_start_state
from plantwin.demo.floor import HeldVirtualPlant, ReleaseWindow
from plantwin.opcua_cache import standard_shelf
from plantwin.planning import RushOutcome, plan_book, plan_rush
from plantwin.recording import (
    record_plan,
    record_simulation,
    record_verdict,
    started_by,
)
from plantwin.scoring import FidelityWatch
from plantwin.service import plant_clock
from plantwin.workers import process_pool
from sim import Replications, replicate
from sync.client import SyncClient
from sync.dispatch import DispatchService, Target, target_of_run
from sync.joborders import JobOrderClient
from sync.livestate import LiveView
from sync.tracker import LiveTracker
from twin.errors import DispatchRefused, PlantwinError
from twin.history import HistoryStore
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import Verdict

COMMAND = "demo"
GRACE = 120.0
"""Wall seconds a bounded run (--duration) may overrun to finish its scripted rush order."""


@dataclass
class LoopState:
    """What the loop has done so far (for the status line and the demo run's KPIs)."""

    plan_run: str | None = None
    schedule: Schedule | None = None
    orders: list[Order] = field(default_factory=list)
    plans: int = 0
    verdicts_accepted: int = 0
    verdicts_refused: int = 0
    dispatches: int = 0
    rush_accepted: list[Order] = field(default_factory=list)
    rush_refused: list[str] = field(default_factory=list)


class Demo:
    """One run of the demo loop over `store` (see module doc)."""

    def __init__(
        self,
        cfg: DemoConfig,
        plant: Plant,
        book: Sequence[Order],
        store: HistoryStore,
        carried: Carried,
        console: Console,
    ) -> None:
        self.cfg, self.plant, self.store, self.carried, self.console = cfg, plant, store, carried, console
        self.book = [o for o in [*book, *carried.rush] if o.id not in carried.completed]
        self.state = LoopState()
        self.stop = asyncio.Event()
        self.vp: HeldVirtualPlant | None = None
        self.client: SyncClient | None = None
        self.view = LiveView(plant, history=store)
        """What the floor publishes over OPC UA: the demo's only live state (besides its clock)."""
        self.window: ReleaseWindow | None = None
        self.run_id: str | None = None
        self.start_counts: dict[str, tuple[int, int]] = {}
        self.dashboard_url: str | None = None
        self._executor: cf.Executor | None = None
        self.dispatcher = DispatchService(store, started_by=started_by(COMMAND))
        self._rush_now = asyncio.Event()
        self._rush_pending = cfg.rush is not None
        """True until the scripted rush order has been played (or cannot be: nothing dispatched)."""
        self._fidelity = FidelityWatch(store, cfg.min_coverage if cfg.min_coverage is not None else 0.0)

    # ---- output ----
    def say(self, text: str, style: str = "") -> None:
        now = plant_clock(self.plant, self.vp.now) if self.vp and self.vp.env else "--- --:--"
        line = f"[dim]{now}[/] {text}" if not style else f"[dim]{now}[/] [{style}]{text}[/]"
        self.console.print(line, soft_wrap=True)

    def live(self) -> LiveState | None:
        return self.view.build(self.client.live) if self.client is not None else None

    # ---- the run ----
    async def run(self, on_ready: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Run until `stop` is set or the duration passes; returns the demo run's KPIs."""
        cfg = self.cfg
        sdir = state_dir(Path(self.store.path))
        sdir.mkdir(parents=True, exist_ok=True)
        state_file = sdir / "plant-state.json"
        resumed = state_file.is_file()
        if not resumed:
            write_start_state(state_file, cfg.start_time)
        self.run_id = self.store.record_run(
            "demo",
            started_by=started_by(COMMAND),
            plant=self.plant,
            orders=self.book,
            params={
                "speed": cfg.speed,
                "duration": cfg.duration,
                "fresh": cfg.fresh,
                "resumed": resumed,
                "earlier_demo_runs": self.carried.runs,
                "last_plan": self.carried.last_plan,
            },
            status="running",
        )
        self._executor = process_pool(2)
        shelf = await asyncio.to_thread(standard_shelf)  # seconds once per user, then a fraction
        self.vp = HeldVirtualPlant(
            self.plant,
            port=0,
            speed=cfg.speed,
            seed=cfg.seed,
            state_path=state_file,
            shelf=shelf,
            drifts=cfg.drifts,
        )
        started = time.monotonic()
        try:
            await self.vp.start()
            self.start_counts = self.vp.counters()
            baselines = {(s, "good_count"): g for s, (g, _) in self.start_counts.items()}
            baselines.update({(s, "reject_count"): r for s, (_, r) in self.start_counts.items()})
            self.client = SyncClient(
                self.plant,
                self.vp.endpoint,
                sink=self.store,
                tracker=LiveTracker(self.plant, baselines=baselines),
                watchers=self.view.watchers,
            )
            await self.client.connect()
            how = "resumed from its retentive state" if resumed else "started fresh"
            self.say(f"virtual plant {self.plant.name} at {self.vp.endpoint} ({how}, speed {cfg.speed:g}x)")
            if on_ready is not None:
                on_ready(self.vp.endpoint)
            tasks = [asyncio.create_task(self._main()), asyncio.create_task(self._status())]
            deadline = None if cfg.duration is None else started + cfg.duration
            while not self.stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    if self._rush_pending and not tasks[0].done() and time.monotonic() < deadline + GRACE:
                        # a bounded run always plays its scripted rush order to the end
                        if not self._rush_now.is_set():
                            self.say(f"duration {cfg.duration:g} s reached: finishing the rush order first")
                            self._rush_now.set()
                    else:
                        self.say(f"duration {cfg.duration:g} s reached: shutting down")
                        break
                if tasks[0].done() and tasks[0].exception() is not None:
                    raise tasks[0].exception()  # type: ignore[misc]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), 0.25)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            return await self._shutdown()
        except BaseException:
            if self.run_id is not None:
                self.store.set_status(self.run_id, "failed")
            raise
        finally:
            if self.client is not None:
                await self.client.disconnect()
            if self.vp is not None:
                await self.vp.stop()
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _main(self) -> None:
        """Plan -> check -> dispatch, then release work as its time comes and play the rush order."""
        assert self.vp is not None and self.client is not None
        if not self.book:
            self.say(
                "every order of the book is finished: nothing to plan (use --fresh to start the week again)"
            )
            self.vp.release_clock()
            return
        live = replace(self.view.build(self.client.live), time=self.vp.now)  # the demo's plant clock
        self.say(f"order book received: {len(self.book)} orders; planning (CP-SAT, weighted tardiness)")
        loop = await asyncio.to_thread(plan_book, self.plant, self.book, live, self.cfg, self._executor)
        parent = self.run_id
        for it in loop.iterations:
            plan_run = self._record_plan(
                it.plan.schedule,
                self.book,
                parent,
                {"iteration": it.iteration, "changes": list(it.changes), "status": it.plan.status},
            )
            self._record_verdict(it.verdict, it.plan.schedule, self.book, plan_run)
            word = "accepted" if it.verdict.accepted else "refused"
            self.say(
                f"plan pass {it.iteration}: {len(it.plan.schedule.operations)} lots, simulator {word}"
                + (f" (below policy: {', '.join(it.failing)})" if it.failing else ""),
                "green" if it.verdict.accepted else "yellow",
            )
            if it.plan.schedule.content_hash() == loop.schedule.content_hash():
                self.state.plan_run = plan_run
        self.state.schedule, self.state.orders = loop.schedule, list(self.book)
        if self.state.plan_run is not None:
            await self._record_simulation(loop.schedule, self.book, live, self.state.plan_run)
        self.window = ReleaseWindow(
            self.plant,
            JobOrderClient.for_plant(self.plant, comment="plantwin demo release"),
            self.cfg.release_horizon,
        )
        if self.state.plan_run is None or not self._dispatch(
            Target(loop.schedule, self.plant, tuple(self.book), self.state.plan_run)
        ):
            self.say(f"not dispatched: {loop.reason}", "red")
            self._rush_pending = False
            self.vp.release_clock()
            return
        self.vp.release_clock()
        rush_at = time.monotonic() + self.cfg.rush.after if self.cfg.rush is not None else None
        while True:
            await self._release()
            if rush_at is not None and (time.monotonic() >= rush_at or self._rush_now.is_set()):
                rush_at = None
                await self._rush()
                self._rush_pending = False
            await asyncio.sleep(0.5)

    def _dispatch(self, target: Target) -> bool:
        """`_adopt`, saying what happened; False when the gate refused."""
        try:
            waiting = self._adopt(target)
        except DispatchRefused as exc:
            self.say(f"dispatch refused: {exc}", "red")
            return False
        self.say(f"dispatched: {waiting} orders to release (released work stays as it is)", "green")
        return True

    def _adopt(self, target: Target) -> int:
        """Hand the schedule to the release window through the dispatch service: its gate looks
        the verdict up in the history (accepted, on exactly this schedule, plant and order book),
        and it records the dispatch (or the refusal). Returns the orders waiting for release.

        Raises:
            DispatchRefused: the gate's reason (recorded).
        """
        assert self.window is not None
        mode = "release_window"
        clearance = self.dispatcher.clear(target, mode=mode)
        before = len(self.window.released)
        waiting = self.window.adopt(target.schedule, clearance, target.orders)
        self.dispatcher.record(
            target,
            status="ok",
            clearance=clearance,
            mode=mode,
            extra={
                "release_horizon": self.cfg.release_horizon,
                "orders_waiting": waiting,
                "orders_released_before": before,
            },
        )
        self.state.dispatches += 1
        return waiting

    async def _release(self) -> None:
        assert self.window is not None and self.client is not None and self.vp is not None
        out = await self.window.release_due(self.client.ua_client, self.vp.now)
        if out:
            self.say(f"released to the floor: {', '.join(out)}")

    async def _rush(self) -> None:
        """The scripted rush order: re-plan, check from the live state, dispatch or refuse."""
        assert self.cfg.rush is not None and self.window is not None and self.client is not None
        assert self.vp is not None and self.state.schedule is not None
        spec, now = self.cfg.rush, self.vp.now
        rush = Order(
            spec.order_id, spec.product, spec.quantity, release=now, due=now + spec.due_in, weight=1.0
        )
        self.say(
            f"rush order {rush.id}: {rush.quantity} x {rush.product}, due {plant_clock(self.plant, rush.due)}"
            "; re-planning",
            "bold magenta",
        )
        live = replace(self.view.build(self.client.live), time=now)
        out: RushOutcome = await asyncio.to_thread(
            plan_rush,
            self.plant,
            self.state.schedule,
            self.state.orders,
            rush,
            live,
            self.cfg,
            self._executor,
        )
        orders = [*self.state.orders, rush]
        r = out.result
        plan_run = self._record_plan(
            out.schedule,
            orders,
            self.state.plan_run,
            {
                "rush": order_to_dict(rush),
                "frozen": len(r.frozen),
                "moved": len(r.moved),
                "live_time": live.time,
                "status": r.status,
            },
        )
        self._record_verdict(out.verdict, out.schedule, orders, plan_run, {"rush": rush.id})
        self._record_replications(out.replications, out.schedule, orders, live, plan_run)
        odds = out.verdict.order(rush.id).on_time_probability
        self.say(
            f"re-plan: {len(r.frozen)} lots frozen, {len(r.moved)} moved; simulator gives {rush.id} "
            f"{odds:.0%} on time"
        )
        if out.verdict.accepted and self._dispatch(Target(out.schedule, self.plant, tuple(orders), plan_run)):
            self.state.schedule, self.state.orders, self.state.plan_run = out.schedule, orders, plan_run
            self.state.rush_accepted.append(rush)
            self.say(f"rush order {rush.id} accepted and dispatched", "bold green")
        else:
            self.state.rush_refused.append(rush.id)
            why = "; ".join(out.verdict.reasons) or "refused"
            self.say(f"rush order {rush.id} refused: {why}", "bold red")

    def _record_plan(
        self, schedule: Schedule, orders: Sequence[Order], parent: str | None, params: dict[str, Any]
    ) -> str:
        self.state.plans += 1
        run = record_plan(
            self.store,
            command=COMMAND,
            plant=self.plant,
            orders=orders,
            schedule=schedule,
            params={"seed": self.cfg.seed, "work_limit": self.cfg.work_limit, **params},
            parent=parent,
        )
        assert run is not None
        return run

    async def _record_simulation(
        self, schedule: Schedule, orders: Sequence[Order], live: LiveState, plan_run: str
    ) -> None:
        """The replications behind the verdict (same seed and warm start: the same sample paths),
        recorded under the plan so the dashboard draws the simulated output band beside it."""
        reps = await asyncio.to_thread(
            replicate,
            self.plant,
            orders,
            schedule=schedule,
            replications=self.cfg.replications,
            seed=self.cfg.seed,
            live=live,
            executor=self._executor,
        )
        self._record_replications(reps, schedule, orders, live, plan_run)

    def _record_replications(
        self, reps: Replications, schedule: Schedule, orders: Sequence[Order], live: LiveState, plan_run: str
    ) -> None:
        """Record replications of `schedule` from `live` as a simulation run under `plan_run`."""
        record_simulation(
            self.store,
            command=COMMAND,
            plant=self.plant,
            orders=orders,
            operations=reps.operations,
            order_results=reps.orders,
            states=reps.states,
            estimates=dict(reps.kpis),
            schedule=schedule,
            params={"seed": self.cfg.seed, "replications": reps.n, "warm_start": live.time},
            kpis={k: e.mean for k, e in reps.kpis.items()},
            parent=plan_run,
        )

    def _record_verdict(
        self,
        verdict: Verdict,
        schedule: Schedule,
        orders: Sequence[Order],
        plan_run: str,
        params: dict[str, Any] | None = None,
    ) -> None:
        if verdict.accepted:
            self.state.verdicts_accepted += 1
        else:
            self.state.verdicts_refused += 1
        record_verdict(
            self.store,
            command=COMMAND,
            plant=self.plant,
            orders=orders,
            verdict=verdict,
            schedule=schedule,
            params={"warm_start": True, **(params or {})},
            parent=plan_run,
        )

    async def _status(self) -> None:
        assert self.client is not None
        while True:
            await asyncio.sleep(self.cfg.status_every)
            s = self.client.status(0.0)
            w = self.window
            rel = f"  released {len(w.released)} orders, {w.waiting} waiting" if w is not None else ""
            self.say(
                f"{'connected' if s.connected else 'DISCONNECTED'}  produced {s.produced}  "
                f"scrapped {s.scrapped}  values {s.values}{rel}"
            )
            text = (
                await asyncio.to_thread(self._fidelity.check) if self.cfg.min_coverage is not None else None
            )
            if text is not None:
                self.say(f"ALERT fidelity: {text}", "bold red")

    # ---- shutdown ----
    async def _shutdown(self) -> dict[str, Any]:
        """Halt the floor's clock, let sync see the last counters, then record the demo run."""
        assert self.vp is not None and self.client is not None
        await self.vp.halt_clock()
        floor = self._floor_parts()
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and self._sync_parts() != floor:
            await asyncio.sleep(0.1)
        completed: list[str] = []
        if self.window is not None:
            states, _ = await self.window.receiver.job_states(self.client.ua_client)
            completed = [
                o
                for o, jobs in self.window.released.items()
                if jobs and all(states.get(j) == "Ended" for j in jobs)
            ]
        await self.client.disconnect()  # flushes every buffered value and event
        self.view.flush()
        synced = self._sync_parts()
        kpis = {
            "plant_time_end": self.vp.now if self.vp.env else None,
            "floor_produced": floor[0],
            "floor_scrapped": floor[1],
            "sync_produced": synced[0],
            "sync_scrapped": synced[1],
            "values": self.client.values,
            "reconnects": self.client.reconnects,
            "plans": self.state.plans,
            "verdicts_accepted": self.state.verdicts_accepted,
            "verdicts_refused": self.state.verdicts_refused,
            "dispatches": self.state.dispatches,
            "orders_released": len(self.window.released) if self.window else 0,
            "orders_completed": len(completed),
            "rush_accepted": len(self.state.rush_accepted),
            "rush_refused": len(self.state.rush_refused),
            "floor_counters": {s: {"good": g, "reject": r} for s, (g, r) in self.vp.counters().items()},
            "floor_counters_at_start": {
                s: {"good": g, "reject": r} for s, (g, r) in self.start_counts.items()
            },
        }
        kpis.update(
            {  # facts a later run continues from (see plantwin.demo.continuity)
                "completed_orders": completed,
                "rush_accepted": [order_to_dict(o) for o in self.state.rush_accepted],
                "rush_refused": self.state.rush_refused,
                "plan": self.state.plan_run,
            }
        )
        assert self.run_id is not None
        self.store.set_status(self.run_id, "ok", kpis=kpis)
        return kpis

    def _floor_parts(self) -> tuple[int, int]:
        assert self.vp is not None
        now = self.vp.counters()
        good = sum(g - self.start_counts.get(s, (0, 0))[0] for s, (g, _) in now.items())
        rej = sum(r - self.start_counts.get(s, (0, 0))[1] for s, (_, r) in now.items())
        return good, rej

    def _sync_parts(self) -> tuple[int, int]:
        assert self.client is not None
        s = self.client.status(0.0)
        return s.produced, s.scrapped


def dashboard_dispatcher(demo: Demo, loop: asyncio.AbstractEventLoop) -> Callable[[str], Any]:
    """The dashboard's dispatch action in the demo: the plan of a run, through the dispatch
    service's gate (its verdict looked up by hashes), to the release window on the loop's thread."""
    from dashboards.services import DispatchOutcome

    def dispatch(run_id: str) -> DispatchOutcome:
        async def adopt() -> int:
            if demo.window is None:
                raise DispatchRefused("the floor is not ready yet (the first plan is still being made)")
            target = target_of_run(demo.store, run_id)
            waiting = demo._adopt(target)
            demo.state.schedule, demo.state.orders, demo.state.plan_run = (
                target.schedule, list(target.orders), run_id,
            )  # fmt: skip
            return waiting

        try:
            n = asyncio.run_coroutine_threadsafe(adopt(), loop).result(timeout=30)
        except PlantwinError as exc:
            return DispatchOutcome(False, str(exc))
        demo.say(f"dispatched from the dashboard: {run_id} ({n} orders to release)", "green")
        return DispatchOutcome(True, f"{run_id}: {n} orders handed to the release window")

    return dispatch
