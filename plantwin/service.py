"""The long-running service (`plantwin serve`; the demo is this plus a virtual plant): the sync
client connects to the configured OPC UA endpoint; the history store is this process's (the one writer); the
dashboard runs inside it; the planner runs on start (optional) and on demand from the dashboard;
the live schedule (the plan of the latest dispatch) is re-checked periodically from the live state,
and every order whose simulated on-time probability falls below the policy raises an alert (a log
line on stderr and a history record: the re-check's verdict run, params `alerts`)."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.console import Console

from plantwin.planning import Planning, plan_book
from plantwin.recording import record_plan, record_verdict, start_sync_session, started_by
from plantwin.scoring import FidelityWatch
from plantwin.workers import process_pool
from sim import check
from sync.client import SyncClient
from sync.dispatch import DispatchService, Target, target_of_run
from sync.joborders import JobOrderClient
from sync.livestate import LiveView
from sync.security import Credentials, Security, require_encryption
from sync.tracker import LiveTracker
from twin.errors import InputError, Issue, PlantwinError
from twin.history import HistoryStore
from twin.history.counters import session_resume
from twin.live import LiveState
from twin.loader import pydantic_issues
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import AcceptancePolicy, Verdict
from twin.yamlsource import parse_yaml

COMMAND = "serve"
log = logging.getLogger(__name__)
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_seconds(text: str, option: str = "--duration") -> float:
    """Seconds from '90', '60s', '5m', '1.5h' or '2d'.

    Raises:
        InputError: not a positive duration.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h|d)?\s*", text.lower())
    if m is None:
        raise InputError(Issue(f"expected seconds or a duration like 60s, 5m, 2h; got {text!r}", option))
    value = float(m.group(1)) * _UNITS[m.group(2) or ""]
    if not 0 < value <= 10 * 365.25 * 86400:
        raise InputError(Issue(f"got {text!r}, expected a positive duration of at most 10 years", option))
    return value


def plant_clock(plant: Plant, t: float) -> str:
    """Plant seconds as local plant time, e.g. 'Mon 06:42'."""
    return (plant.epoch + timedelta(seconds=t)).strftime("%a %H:%M")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecurityConfig(_Strict):
    """As `plantwin sync --security POLICY,MODE --cert --key --trust` takes it."""

    policy: str = "Basic256Sha256"
    mode: str = "SignAndEncrypt"
    cert: Path
    key: Path
    trust: Path | None = None


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
    min_coverage: float | None = Field(0.6, ge=0.0, le=1.0)
    """Alert when the twin's prediction covers less of the actual output than this (None: never)."""


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
        sec = sec.model_copy(
            update={
                "cert": rel(sec.cert) or sec.cert,
                "key": rel(sec.key) or sec.key,
                "trust": rel(sec.trust) or sec.trust,
            }
        )
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
        Security.parse(
            f"{cfg.security.policy},{cfg.security.mode}",
            cfg.security.cert,
            cfg.security.key,
            cfg.security.trust,
            where="opcua.security.trust",
        )
        if cfg.security
        else None
    )
    credentials = None
    if cfg.user is not None:
        if cfg.password_file is None or not cfg.password_file.is_file():
            raise InputError(Issue("user needs a readable password_file", "opcua.password_file"))
        credentials = Credentials(cfg.user, cfg.password_file.read_text().strip())
    require_encryption(sec, credentials, "opcua.user")
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
    """The latest successful dispatch run, the schedule it sent and its order book (None if none):
    a dispatch run holds what it sent."""
    runs = store.list_runs(kind="dispatch", status="ok", limit=20)
    for run_id in runs["id"] if len(runs) else ():
        with contextlib.suppress(PlantwinError):
            return str(run_id), store.get_schedule(str(run_id)), store.get_orders(str(run_id))
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
        self._fidelity: FidelityWatch | None = None
        self.rechecks = 0
        self._executor: cf.Executor | None = None
        self._receiver = JobOrderClient.for_plant(plant, comment="plantwin serve")
        self.view = LiveView(plant, history=store)
        """What the floor publishes (station tags, job responses, stock): the only live state."""
        self.dispatcher = DispatchService(store, started_by=started_by(COMMAND))

    def say(self, text: str, style: str = "") -> None:
        now = plant_clock(self.plant, self.client.live.time) if self.client is not None else "--- --:--"
        self.console.print(f"[dim]{now}[/] [{style or 'default'}]{text}[/]", soft_wrap=True)

    def live(self) -> Any:
        return self.view.build(self.client.live) if self.client is not None else None

    async def run(self, duration: float | None = None) -> dict[str, Any]:
        sec, credentials = security_of(self.cfg.opcua)
        resume = session_resume(self.store)
        run_id, _ = start_sync_session(
            self.store,
            command=COMMAND,
            plant=self.plant,
            params={"endpoint": self.cfg.opcua.endpoint, "service": "serve"},
        )
        self._executor = self._given or process_pool(2)
        self.client = SyncClient(
            self.plant,
            self.cfg.opcua.endpoint,
            sink=self.store,
            security=sec,
            credentials=credentials,
            tracker=LiveTracker.resume(self.plant, resume.values),
            server_start=resume.server_start,
            watchers=self.view.watchers,
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
            status = "ok" if self.client.connected else "disconnected"
        finally:
            if self.client is not None:
                await self.client.disconnect()
                self.view.flush()
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
        assert self.client is not None and self.book
        live = self.view.build(self.client.live)
        cfg = Planning(
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
                schedule=it.plan.schedule,
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
            target = Target(loop.schedule, self.plant, tuple(self.book), plan_run)
            res = await self.dispatcher.dispatch(self.client.ua_client, target)
            self.say(f"dispatched {len(res.sent)} job orders ({len(res.refused)} refused)", "green")
        return plan_run

    async def recheck(self) -> list[dict[str, Any]] | None:
        """Re-check the live schedule from the live state, record the verdict, alert (None: nothing sent)."""
        assert self.client is not None
        found = live_schedule(self.store)
        if found is None:
            self.say("re-check: no dispatched schedule yet")
            return None
        dispatch_run, schedule, orders = found
        plan_run = self.store.get_run(dispatch_run).get("parent") or dispatch_run  # for the reader
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
            schedule=schedule,
            parent=plan_run,
            params={
                "purpose": "recheck",
                "dispatch_run": dispatch_run,
                "live_time": live.time,
                "alerts": alerts,
            },
        )
        self.rechecks += 1
        for a in alerts:
            self.alerts.append(a)
            self.say(
                f"ALERT {a['order_id']}: simulated on-time probability {a['on_time_probability']:.0%} "
                f"< policy {self.cfg.policy.min_on_time:.0%} (plan {plan_run})",
                "bold red",
            )
        floor = f"{self.cfg.policy.min_on_time:.0%}"
        self.say(  # one line per re-check, whatever it found
            f"re-check {self.rechecks} of {plan_run}: "
            + (f"{len(alerts)} order(s) below {floor}" if alerts else f"every order at or above {floor}")
        )
        if self.cfg.policy.min_coverage is not None:
            watch = self._fidelity = self._fidelity or FidelityWatch(self.store, self.cfg.policy.min_coverage)
            if (text := await asyncio.to_thread(watch.check)) is not None:
                self.say(f"ALERT fidelity: {text}", "bold red")
        return alerts

    async def _live_with_jobs(self, schedule: Schedule) -> LiveState:
        """The live state from what the floor publishes (`sync.livestate`): completed, running
        (with units done) and queued work from the job responses, so the re-check simulates only
        what is left."""
        assert self.client is not None
        return self.view.build(self.client.live)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.recheck_every)
            await self.recheck()


def serve_dispatcher(service: Service, loop: asyncio.AbstractEventLoop) -> Callable[[str], Any]:
    """The dashboard's dispatch action: the service's dispatch (lookup, gate, send, record) of a
    run's schedule, on the service's loop."""
    from dashboards.services import DispatchOutcome

    def dispatch(run_id: str) -> DispatchOutcome:
        if service.client is None:
            return DispatchOutcome(False, "not connected to the plant")
        try:
            target = target_of_run(service.store, run_id)
            fut = asyncio.run_coroutine_threadsafe(
                service.dispatcher.dispatch(service.client.ua_client, target), loop
            )
            res = fut.result(timeout=120)
        except PlantwinError as exc:
            return DispatchOutcome(False, str(exc))
        refused = f", {len(res.refused)} refused" if res.refused else ""
        return DispatchOutcome(res.ok, f"sent {len(res.sent)} job orders{refused}", res.run_id)

    return dispatch
