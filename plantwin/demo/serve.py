"""`plantwin serve`: the demo's services for a real plant. No virtual plant: the sync client connects
to the configured OPC UA endpoint; the history store is this process's (the one writer); the
dashboard runs inside it; the planner runs on start (optional) and on demand from the dashboard;
the live schedule (the plan of the latest dispatch) is re-checked periodically from the live state,
and every order whose simulated on-time probability falls below the policy raises an alert (a log
line on stderr and a history record: the re-check's verdict run, params `alerts`)."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncua import ua
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.console import Console

from plantwin.demo.config import parse_seconds
from plantwin.demo.floor import JobReceiver, live_from_jobs
from plantwin.demo.loop import plant_clock
from plantwin.recording import record_plan, record_verdict, started_by
from plantwin.workers import process_pool
from sim import check
from sync.client import SyncClient
from sync.dispatch import Dispatcher
from sync.security import Credentials, Security
from twin.errors import DispatchRefused, InputError, Issue, PlantwinError, SyncError
from twin.history import HistoryStore
from twin.live import LiveState
from twin.loader import pydantic_issues
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import AcceptancePolicy, Verdict
from twin.yamlsource import parse_yaml

COMMAND = "serve"
log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecurityConfig(_Strict):
    """As `plantwin sync --security POLICY,MODE --cert --key` takes it."""

    policy: str = "Basic256Sha256"
    mode: str = "SignAndEncrypt"
    cert: Path
    key: Path


class OpcuaConfig(_Strict):
    endpoint: str
    security: SecurityConfig | None = None
    user: str | None = None
    password_file: Path | None = None


class DashboardConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8050, ge=0, le=65535)
    users_file: Path | None = None


class PolicyConfig(_Strict):
    min_on_time: float = Field(0.9, ge=0.0, le=1.0)
    service_level: float | None = Field(None, ge=0.0, le=1.0)


class ServeConfig(_Strict):
    """The `plantwin serve` configuration file (YAML); relative paths are from the file's folder."""

    plant: str
    orders: str | None = None
    opcua: OpcuaConfig
    db: Path | None = None
    dashboard: DashboardConfig = DashboardConfig()
    policy: PolicyConfig = PolicyConfig()
    recheck_every: float = 300.0
    replications: int = Field(10, ge=2, le=1000)
    seed: int = 1
    plan_on_start: bool = True
    dispatch_on_start: bool = False
    time_limit: float = Field(10.0, gt=0)
    work_limit: float | None = 20.0

    @field_validator("recheck_every", mode="before")
    @classmethod
    def _period(cls, v: Any) -> float:
        if isinstance(v, str):
            try:
                return parse_seconds(v, "recheck_every")
            except InputError as exc:
                raise ValueError(exc.issues[0].message) from None
        return v

    @property
    def acceptance(self) -> AcceptancePolicy:
        return AcceptancePolicy(self.policy.min_on_time, self.policy.service_level)


def load_serve_config(path: Path) -> ServeConfig:
    """Read and validate a serve config; relative paths resolved against its folder.

    Raises:
        InputError: unreadable, not YAML, or invalid (FILE:LINE: field: message).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(Issue(f"cannot read: {exc.strerror}", str(path))) from None
    doc = parse_yaml(text, str(path))
    if not isinstance(doc.data, dict):
        raise InputError(Issue("a serve config must be a YAML mapping", str(path), 1))
    try:
        cfg = ServeConfig.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(pydantic_issues(exc, doc)) from None
    base = path.parent

    def rel(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else base / p

    plant = cfg.plant
    if (base / plant).exists():
        plant = str(base / plant)
    orders = (
        str(base / cfg.orders)
        if cfg.orders is not None and not Path(cfg.orders).is_absolute()
        else cfg.orders
    )
    sec = cfg.opcua.security
    if sec is not None:
        sec = sec.model_copy(update={"cert": rel(sec.cert) or sec.cert, "key": rel(sec.key) or sec.key})
    opcua = cfg.opcua.model_copy(
        update={"security": sec, "password_file": rel(cfg.opcua.password_file) or cfg.opcua.password_file}
    )
    dash = cfg.dashboard.model_copy(
        update={"users_file": rel(cfg.dashboard.users_file) or cfg.dashboard.users_file}
    )
    return cfg.model_copy(
        update={
            "plant": plant,
            "orders": orders,
            "opcua": opcua,
            "dashboard": dash,
            "db": rel(cfg.db) or cfg.db,
        }
    )


def security_of(cfg: OpcuaConfig) -> tuple[Security | None, Credentials | None]:
    """The sync client's security and credentials from the config (as `plantwin sync` builds them)."""
    sec = (
        Security.parse(f"{cfg.security.policy},{cfg.security.mode}", cfg.security.cert, cfg.security.key)
        if cfg.security
        else None
    )
    credentials = None
    if cfg.user is not None:
        if cfg.password_file is None or not cfg.password_file.is_file():
            raise InputError(Issue("user needs a readable password_file", "opcua.password_file"))
        credentials = Credentials(cfg.user, cfg.password_file.read_text().strip())
    return sec, credentials


def alerts_of(
    verdict: Verdict, policy: AcceptancePolicy, done: set[str] | None = None
) -> list[dict[str, Any]]:
    """Orders of the verdict whose on-time probability is below the policy (finished ones excepted)."""
    return [
        {
            "order_id": o.order_id,
            "on_time_probability": o.on_time_probability,
            "ci_low": o.ci_low,
            "ci_high": o.ci_high,
            "mean_lateness": o.mean_lateness,
        }
        for o in verdict.orders
        if o.on_time_probability < policy.min_on_time and o.order_id not in (done or set())
    ]


def live_schedule(store: HistoryStore) -> tuple[str, Schedule, list[Order]] | None:
    """The plan of the latest successful dispatch run, its schedule and order book (None if none)."""
    runs = store.list_runs(kind="dispatch", status="ok", limit=20)
    for run_id in runs["id"] if len(runs) else ():
        parent = store.get_run(str(run_id)).get("parent")
        if parent is None:
            continue
        kind = store.get_run(parent)["kind"]
        if kind == "verdict":
            parent = store.get_run(parent).get("parent") or parent
        with contextlib.suppress(PlantwinError):
            return parent, store.get_schedule(parent), store.get_orders(parent)
    return None


class Service:
    """The serve loop: sync, dashboard actions, the optional start plan, and the periodic re-check."""

    def __init__(
        self, cfg: ServeConfig, plant: Plant, book: list[Order] | None, store: HistoryStore, console: Console,
        executor: cf.Executor | None = None,
    ) -> None:  # fmt: skip
        """`executor`: where checks replicate (the caller's, left open); None: 2 local processes."""
        self.cfg, self.plant, self.book, self.store, self.console = cfg, plant, book, store, console
        self._given = executor
        self.stop = asyncio.Event()
        self.client: SyncClient | None = None
        self.alerts: list[dict[str, Any]] = []
        self.rechecks = 0
        self._executor: cf.Executor | None = None
        self._receiver = JobReceiver(plant)
        self._started: dict[str, float] = {}

    def say(self, text: str, style: str = "") -> None:
        now = plant_clock(self.plant, self.client.live.time) if self.client is not None else "--- --:--"
        self.console.print(f"[dim]{now}[/] [{style or 'default'}]{text}[/]", soft_wrap=True)

    def live(self) -> Any:
        return self.client.live if self.client is not None else None

    async def run(self, duration: float | None = None) -> dict[str, Any]:
        sec, credentials = security_of(self.cfg.opcua)
        run_id = self.store.record_run(
            "sync",
            started_by=started_by(COMMAND),
            plant=self.plant,
            params={"endpoint": self.cfg.opcua.endpoint, "service": "serve"},
            status="running",
        )
        self._executor = self._given or process_pool(2)
        self.client = SyncClient(
            self.plant, self.cfg.opcua.endpoint, sink=self.store, security=sec, credentials=credentials
        )
        status = "failed"
        try:
            await self.client.connect()
            self.say(f"connected to {self.cfg.opcua.endpoint}")
            if self.cfg.plan_on_start and self.book:
                await self.plan_now(dispatch=self.cfg.dispatch_on_start)
            task = asyncio.create_task(self._recheck_loop())
            deadline = None if duration is None else time.monotonic() + duration
            while not self.stop.is_set() and (deadline is None or time.monotonic() < deadline):
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), 0.25)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            status = "ok"
        finally:
            if self.client is not None:
                await self.client.disconnect()
            if self._given is None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            s = self.client.status(0.0)
            kpis = {
                "values": s.values,
                "produced": s.produced,
                "scrapped": s.scrapped,
                "reconnects": s.reconnects,
                "rechecks": self.rechecks,
                "alerts": len(self.alerts),
            }
            self.store.set_status(run_id, status, kpis=kpis)
        return kpis

    async def plan_now(self, *, dispatch: bool = False) -> str | None:
        """Plan the order book from the live state (until accepted), record it; dispatch if asked."""
        from plantwin.demo.config import DemoConfig
        from plantwin.demo.planning import plan_book

        assert self.client is not None and self.book
        live = self.client.live
        cfg = DemoConfig(
            replications=self.cfg.replications,
            policy=self.cfg.acceptance,
            seed=self.cfg.seed,
            time_limit=self.cfg.time_limit,
            work_limit=self.cfg.work_limit,
        )
        self.say(f"planning {len(self.book)} orders from the live state")
        loop = await asyncio.to_thread(plan_book, self.plant, self.book, live, cfg, self._executor)
        plan_run = None
        for it in loop.iterations:
            pr = record_plan(
                self.store,
                command=COMMAND,
                plant=self.plant,
                orders=self.book,
                schedule=it.plan.schedule,
                params={"iteration": it.iteration, "seed": self.cfg.seed},
            )
            record_verdict(
                self.store,
                command=COMMAND,
                plant=self.plant,
                orders=self.book,
                verdict=it.verdict,
                parent=pr,
                params={"warm_start": True},
            )
            if it.plan.schedule.content_hash() == loop.schedule.content_hash():
                plan_run = pr
        self.say(
            f"plan {plan_run}: {'accepted' if loop.accepted else 'refused'} ({loop.reason})",
            "green" if loop.accepted else "yellow",
        )
        if dispatch and loop.accepted and plan_run is not None:
            res = await Dispatcher(self.plant).dispatch(
                self.client.ua_client, loop.schedule, loop.verdict, self.book
            )
            self.store.record_run(
                "dispatch",
                started_by=started_by(COMMAND),
                plant=self.plant,
                orders=self.book,
                parent=plan_run,
                params={"schedule_hash": res.schedule_hash, "sent": len(res.sent), "refused": res.refused},
                status="ok" if res.ok else "partial",
            )
            self.say(f"dispatched {len(res.sent)} job orders ({len(res.refused)} refused)", "green")
        return plan_run

    async def recheck(self) -> list[dict[str, Any]] | None:
        """Re-check the live schedule from the live state, record the verdict, alert (None: nothing sent)."""
        assert self.client is not None
        found = live_schedule(self.store)
        if found is None:
            self.say("re-check: no dispatched schedule yet")
            return None
        plan_run, schedule, orders = found
        live = await self._live_with_jobs(schedule)
        verdict = await asyncio.to_thread(
            check,
            self.plant,
            orders,
            schedule,
            replications=self.cfg.replications,
            seed=self.cfg.seed,
            policy=self.cfg.acceptance,
            live=live,
            executor=self._executor,
        )
        alerts = alerts_of(verdict, self.cfg.acceptance, {o for o, _ in live.completed})
        record_verdict(
            self.store,
            command=COMMAND,
            plant=self.plant,
            orders=orders,
            verdict=verdict,
            parent=plan_run,
            params={"purpose": "recheck", "live_time": live.time, "alerts": alerts},
        )
        self.rechecks += 1
        for a in alerts:
            self.alerts.append(a)
            self.say(
                f"ALERT {a['order_id']}: simulated on-time probability {a['on_time_probability']:.0%} "
                f"< policy {self.cfg.policy.min_on_time:.0%} (plan {plan_run})",
                "bold red",
            )
        if not alerts:
            self.say(f"re-check of {plan_run}: every order at or above {self.cfg.policy.min_on_time:.0%}")
        return alerts

    async def _live_with_jobs(self, schedule: Schedule) -> LiveState:
        """The live state with completed and running work from the floor's job order list, so the
        re-check simulates only what is left; the plain live state if the floor has no receiver."""
        assert self.client is not None
        live = self.client.live
        try:
            states, _ = await self._receiver.job_states(self.client.ua_client)
        except (SyncError, ua.UaError) as exc:
            self.say(f"re-check without job states (no job order list: {exc}): simulating all planned work")
            return live
        where = {op.key: (op.station, op.machine) for op in schedule.operations}
        return live_from_jobs(live, states, where, self._started)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.recheck_every)
            await self.recheck()


def serve_dispatcher(
    service: Service, services: Callable[[], Any], loop: asyncio.AbstractEventLoop
) -> Callable[..., Any]:
    """The dashboard's dispatch action: sync's Dispatcher (gate included) on the service's loop;
    `services()` gives the dashboard's services (for the plan's verdict)."""
    from dashboards.services import DispatchOutcome

    def dispatch(run_id: str, schedule: Schedule) -> DispatchOutcome:
        cand = next((c for c in services().candidates() if c.run_id == run_id), None)
        verdict = cand.verdict if cand is not None else None
        orders = service.store.get_orders(run_id)
        if service.client is None:
            return DispatchOutcome(False, "not connected to the plant")
        fut = asyncio.run_coroutine_threadsafe(
            Dispatcher(service.plant).dispatch(service.client.ua_client, schedule, verdict, orders), loop
        )
        try:
            res = fut.result(timeout=120)
        except (DispatchRefused, PlantwinError) as exc:
            return DispatchOutcome(False, str(exc))
        refused = f", {len(res.refused)} refused" if res.refused else ""
        return DispatchOutcome(res.ok, f"sent {len(res.sent)} job orders{refused}")

    return dispatch
