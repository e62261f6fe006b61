"""The virtual plant: an asyncua server whose address space follows the plant's tag map,
driven by a SimPy model of the floor in scaled real time.

The floor is `sim.model.PlantModel` (driver "sim", the default) behind an adapter
(`sync.virtual.simfloor`), or the small stand-alone model of `sync.virtual.floor`
(driver "floor").

Address space: Objects / <site> / <line> / <station> folders holding each station's
variables, with the node ids of `Plant.tag_map` (namespace registered by URI, string
ids), plus a `JobOrderControl` object (see `sync.virtual.jobs`).

Clock: the SimPy clock is the plant clock. Every value carries the source timestamp
`epoch + env.now`, so a client's plant seconds (source time - epoch) equal simulated
seconds. The SimPy environment is advanced by this server's asyncio loop
(`env.run(until=wall elapsed x speed)` every `tick` seconds) rather than by
`simpy.rt.RealtimeEnvironment`, whose blocking sleep would freeze the OPC UA server;
the pacing is the same (speed x wall time), and dispatched work is handed to the floor
on the same thread, so there is no locking.

Start-up: asyncua builds its standard address space in a few seconds on a busy machine;
`shelf` names a cache file (made on first use, read-only after) that cuts that to a fraction.

Retentive counters: with `state_path`, the counters and the clock are saved after every
update (atomically) and restored on start, as a PLC keeps retentive memory across a
restart. Without it, a restarted plant starts its counters from zero.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import simpy
from asyncua import Server, ua, uamethod
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from sync.security import Credentials
from sync.tags import parse_ref
from sync.virtual.floor import Floor, Job, Record
from sync.virtual.jobs import JobBook, JobState, Status, job_from_json
from sync.virtual.simfloor import SimFloor
from twin.drift import Drift
from twin.orders import Order
from twin.plant import Plant
from twin.structure import structure_differences

log = logging.getLogger(__name__)

APPLICATION_URI = "urn:plantwin:virtual-plant"
DRIVERS = ("sim", "floor")
"""sim: the project's simulator (sim.model.PlantModel); floor: the small model in sync.virtual.floor."""


@dataclass(frozen=True)
class ServerSecurity:
    """A secured virtual plant: Basic256Sha256 endpoints only (`modes`), its own certificate."""

    cert: Path
    key: Path
    modes: tuple[str, ...] = ("Sign", "SignAndEncrypt")


class _Users(UserManager):
    """Accepts only the configured user names and passwords; refuses anonymous sessions."""

    def __init__(self, users: list[Credentials]) -> None:
        self._users = {u.user: u.password for u in users}

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is not None and self._users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


_TYPES = {
    "state": ua.VariantType.String,
    "good_count": ua.VariantType.UInt32,
    "reject_count": ua.VariantType.UInt32,
    "current_order": ua.VariantType.String,
    "current_operation": ua.VariantType.String,
    "cycle_time": ua.VariantType.Double,
}
_INITIAL = {
    "state": "Idle",
    "good_count": 0,
    "reject_count": 0,
    "current_order": "",
    "current_operation": "",
    "cycle_time": 0.0,
}


def tag_writes(rec: Record, floor: Floor | SimFloor) -> list[tuple[str, Any]]:
    """The station tags (name, value) one floor record changes: the virtual plant's contract
    between its floor and its address space (the offline recorder uses the same)."""
    station, kind = rec["station"], rec["kind"]
    if kind == "state":
        return [("state", str(rec["state"]))]
    if kind == "produced":
        return [("good_count", floor.good[station])]
    if kind == "scrapped":
        return [("reject_count", floor.reject[station])]
    if kind == "order_started":
        return [("current_order", rec["order_id"]), ("current_operation", rec["operation"])]
    if kind == "cycle":
        return [("cycle_time", float(rec["value"]))]
    if kind == "process_value":
        return [(f"pv:{rec['name']}", float(rec["value"]))]
    return []


class VirtualPlant:
    """An OPC UA server on `host:port` (0: a free port) presenting `plant`, run at `speed`x."""

    def __init__(
        self,
        plant: Plant,
        *,
        host: str = "127.0.0.1",
        port: int = 4840,
        speed: float = 60.0,
        seed: int = 1,
        security: ServerSecurity | None = None,
        users: list[Credentials] | None = None,
        state_path: Path | None = None,
        feed: list[Order] | None = None,
        tick: float = 0.02,
        shelf: Path | None = None,
        driver: str = "sim",
        truth: Plant | None = None,
        drifts: Sequence[Drift] = (),
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if driver not in DRIVERS:
            raise ValueError(f"driver must be one of {', '.join(DRIVERS)}")
        if truth is not None and (diff := structure_differences(plant, truth)):
            raise ValueError("the truth is not the same floor as the plant: " + "; ".join(diff))
        if drifts and driver != "sim":
            raise ValueError("drift needs the 'sim' driver")
        self.driver = driver
        self.plant = plant
        self.truth = truth if truth is not None else plant
        """What the floor runs: `plant` itself, or a truth file with other parameters."""
        self.drifts = tuple(drifts)
        self.host, self.port, self.speed, self.tick = host, port, speed, tick
        self._security, self._users = security, users
        self._state_path = state_path
        self._feed = feed
        self._seed = seed
        self._shelf = shelf
        self.server = Server()
        self.jobs = JobBook()
        self._pending: list[tuple[ua.NodeId, Any, ua.VariantType, float]] = []
        self._nodes: dict[tuple[str, str], ua.NodeId] = {}
        self._runner: asyncio.Task[None] | None = None
        self.env: simpy.Environment | None = None
        self.floor: Floor | SimFloor | None = None
        self.ns = 0

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    # ---- lifecycle ----
    async def __aenter__(self) -> VirtualPlant:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        start_time, counts = self._restore()
        self.env = simpy.Environment(initial_time=start_time)
        if self.driver == "sim":
            self.floor = SimFloor(
                self.truth,
                self.env,
                seed=self._seed,
                observer=self._observe,
                initial_counts=counts,
                drifts=self.drifts,
            )
        else:
            self.floor = Floor(
                self.truth, self.env, seed=self._seed, observer=self._observe, initial_counts=counts
            )
        if self._feed:
            self.floor.feed([o for o in self._feed if o.release >= start_time])
        await self._build_server()
        await self.server.start()
        if self.port == 0:
            self.port = self.server.bserver._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            try:
                await self._runner
            except asyncio.CancelledError:
                log.debug("virtual plant runner stopped")
            self._runner = None
        await self.server.stop()

    async def _build_server(self) -> None:
        server = self.server
        await server.init(self._shelf)
        if self._shelf is not None and not self._shelf.is_file():
            # asyncua looks for the file itself (or NAME.db); dbm.dumb writes NAME.dat/NAME.dir
            self._shelf.touch()
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}")
        server.set_server_name(f"plantwin virtual plant ({self.plant.name})")
        await server.set_application_uri(APPLICATION_URI)
        if self._security is not None:
            await server.load_certificate(str(self._security.cert))
            await server.load_private_key(str(self._security.key))
            policies = {
                "Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
                "SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            }
            server.set_security_policy([policies[m] for m in self._security.modes])
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self._users is not None:
            server.iserver.user_manager = _Users(self._users)
            server.set_identity_tokens([ua.UserNameIdentityToken])
        self.ns = await server.register_namespace(self.plant.opcua.namespace_uri)
        await self._build_address_space()

    async def _build_address_space(self) -> None:
        assert self.env is not None and self.floor is not None
        objects = self.server.nodes.objects
        site = await objects.add_folder(
            ua.NodeId(self.plant.site, self.ns), ua.QualifiedName(self.plant.site, self.ns)
        )
        ts = self._stamp(self.env.now)
        for line in self.plant.lines:
            lf = await site.add_folder(ua.NodeId(f"{line.id}", self.ns), ua.QualifiedName(line.id, self.ns))
            for station in line.stations:
                sf = await lf.add_folder(
                    ua.NodeId(f"{line.id}.{station.id}", self.ns), ua.QualifiedName(station.id, self.ns)
                )
                tm = self.plant.tag_map(station.id)
                refs = {name: getattr(tm, name) for name in _TYPES if getattr(tm, name)}
                refs.update({f"pv:{k}": v for k, v in tm.process_values.items()})
                for name, ref in refs.items():
                    vtype = _TYPES.get(name, ua.VariantType.Double)
                    init: Any = _INITIAL.get(name, math.nan)
                    if name == "good_count":
                        init = self.floor.good[station.id]
                    elif name == "reject_count":
                        init = self.floor.reject[station.id]
                    elif name.startswith("pv:"):
                        pv = next(p for p in station.process_values if p.name == name[3:])
                        init = pv.target
                    node = await self._add_variable(sf, ref, name, init, vtype, ts)
                    self._nodes[(station.id, name)] = node
        await self._build_job_receiver(site)

    async def _add_variable(
        self, folder: Any, ref: str, name: str, init: Any, vtype: ua.VariantType, ts: datetime
    ) -> ua.NodeId:
        parsed = parse_ref(ref)
        if parsed.kind == "browse":
            parent = self.server.nodes.objects
            for element in parsed.path[:-1]:
                bname = ua.QualifiedName(element.split(":")[-1], self.ns)
                try:
                    parent = await parent.get_child(bname)
                except ua.UaError:
                    parent = await parent.add_folder(ua.NodeId(f"browse.{element}", self.ns), bname)
            nodeid = ua.NodeId(f"browse.{ref[len('browse:') :]}", self.ns)
            var = await parent.add_variable(
                nodeid, ua.QualifiedName(parsed.path[-1].split(":")[-1], self.ns), init, vtype
            )
        else:
            index = self.ns if parsed.namespace_uri is not None else (parsed.namespace_index or 0)
            if parsed.namespace_uri not in (None, self.plant.opcua.namespace_uri):
                index = await self.server.register_namespace(parsed.namespace_uri)
            ident: Any = int(parsed.identifier) if parsed.id_type == "i" else parsed.identifier
            nodeid = ua.NodeId(ident, index)
            var = await folder.add_variable(
                nodeid, ua.QualifiedName(name.removeprefix("pv:"), self.ns), init, vtype
            )
        await self.server.write_attribute_value(var.nodeid, self._dv(init, vtype, ts))
        return var.nodeid

    async def _build_job_receiver(self, site: Any) -> None:
        ns = self.ns
        ctl = await site.add_object(ua.NodeId("JobOrderControl", ns), ua.QualifiedName("JobOrderControl", ns))
        self._job_list = await ctl.add_variable(
            ua.NodeId("JobOrderControl.JobOrderList", ns),
            ua.QualifiedName("JobOrderList", ns),
            "[]",
            ua.VariantType.String,
        )
        text, u64 = [ua.VariantType.String, ua.VariantType.String], [ua.VariantType.UInt64]
        for name, func in (
            ("Store", self._m_store),
            ("StoreAndStart", self._m_store_and_start),
            ("Start", self._m_start),
            ("Cancel", self._m_cancel),
            ("Clear", self._m_clear),
        ):
            await ctl.add_method(
                ua.NodeId(f"JobOrderControl.{name}", ns), ua.QualifiedName(name, ns), func, text, u64
            )

    # ---- job order methods (args: JobOrder or JobOrderID, Comment) ----
    def _parse_store(self, text: str) -> Job | Status:
        try:
            job = job_from_json(text)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("job order refused: %s", exc)
            return Status.INVALID_JOB_ORDER
        station = self.plant.station_map.get(job.station)
        product = self.plant.product_map.get(job.product)
        if station is None or job.machine >= station.machines:
            return Status.UNKNOWN_EQUIPMENT
        if product is None or job.op_index >= len(product.routing):
            return Status.INVALID_JOB_ORDER
        return job

    @uamethod
    async def _m_store(self, parent: ua.NodeId, job_order: str, comment: str) -> ua.Variant:
        job = self._parse_store(job_order)
        status = job if isinstance(job, Status) else self.jobs.store(job)
        await self._publish_jobs()
        return ua.Variant(int(status), ua.VariantType.UInt64)

    @uamethod
    async def _m_store_and_start(self, parent: ua.NodeId, job_order: str, comment: str) -> ua.Variant:
        job = self._parse_store(job_order)
        status = job if isinstance(job, Status) else self.jobs.store(job)
        if status == Status.OK:
            assert isinstance(job, Job)
            status = self._start(job.job_id)
        await self._publish_jobs()
        return ua.Variant(int(status), ua.VariantType.UInt64)

    @uamethod
    async def _m_start(self, parent: ua.NodeId, job_id: str, comment: str) -> ua.Variant:
        status = self._start(job_id)
        await self._publish_jobs()
        return ua.Variant(int(status), ua.VariantType.UInt64)

    @uamethod
    async def _m_cancel(self, parent: ua.NodeId, job_id: str, comment: str) -> ua.Variant:
        started = self.jobs.states.get(job_id) == JobState.ALLOWED_TO_START
        if started and self.floor is not None and not self.floor.cancel(job_id):
            status = Status.INVALID_STATE  # handed to a floor that cannot withdraw it
        else:
            status = self.jobs.cancel(job_id)
        await self._publish_jobs()
        return ua.Variant(int(status), ua.VariantType.UInt64)

    @uamethod
    async def _m_clear(self, parent: ua.NodeId, job_id: str, comment: str) -> ua.Variant:
        status = self.jobs.clear(job_id)
        await self._publish_jobs()
        return ua.Variant(int(status), ua.VariantType.UInt64)

    def _start(self, job_id: str) -> Status:
        status = self.jobs.start(job_id)
        if status == Status.OK and self.floor is not None:
            self.floor.submit(self.jobs.jobs[job_id])
        return status

    async def _publish_jobs(self) -> None:
        assert self.env is not None
        dv = self._dv(self.jobs.to_json(), ua.VariantType.String, self._stamp(self.env.now))
        await self.server.write_attribute_value(self._job_list.nodeid, dv)

    # ---- driving the floor ----
    def _observe(self, rec: Record) -> None:
        """Floor record -> pending tag writes (flushed after each step of the clock)."""
        assert self.floor is not None
        station, kind, t = rec["station"], rec["kind"], rec["time"]
        if kind == "order_started":
            self.jobs.running(rec["job_id"])
        elif kind == "order_finished":
            self.jobs.ended(rec["job_id"])
        for tag, value in tag_writes(rec, self.floor):
            node = self._nodes.get((station, tag))
            if node is not None:
                self._pending.append((node, value, _TYPES.get(tag, ua.VariantType.Double), t))

    async def _run(self) -> None:
        assert self.env is not None
        loop = asyncio.get_running_loop()
        wall0, sim0 = loop.time(), self.env.now
        jobs_seen = ""
        saved = wall0
        while True:
            target = sim0 + (loop.time() - wall0) * self.speed
            if target > self.env.now:
                self.env.run(until=target)
            if self._pending:
                await self.flush_writes()
                saved = loop.time()
            elif loop.time() - saved > 0.5:  # the retentive clock moves on while nothing happens
                self._save()
                saved = loop.time()
            text = self.jobs.to_json()
            if text != jobs_seen:
                jobs_seen = text
                await self._publish_jobs()
            await asyncio.sleep(self.tick)

    async def flush_writes(self) -> None:
        """Save the retentive state, then write the pending values in the order they happened."""
        pending, self._pending = self._pending, []
        self._save()  # first: a kill between the two must never show a count the file lacks
        for node, value, vtype, t in pending:
            await self.server.write_attribute_value(node, self._dv(value, vtype, self._stamp(t)))

    def _stamp(self, t: float) -> datetime:
        return (self.plant.epoch + timedelta(seconds=t)).astimezone(UTC)

    @staticmethod
    def _dv(value: Any, vtype: ua.VariantType, source: datetime) -> ua.DataValue:
        return ua.DataValue(
            ua.Variant(value, vtype), SourceTimestamp=source, ServerTimestamp=datetime.now(UTC)
        )

    # ---- retentive state ----
    def _restore(self) -> tuple[float, dict[str, tuple[int, int]]]:
        if self._state_path is None or not self._state_path.is_file():
            return 0.0, {}
        data = json.loads(self._state_path.read_text())
        return float(data["time"]), {k: (int(v[0]), int(v[1])) for k, v in data["counts"].items()}

    def _save(self) -> None:
        if self._state_path is None or self.floor is None or self.env is None:
            return
        data = {
            "time": self.env.now,
            "counts": {s: [self.floor.good[s], self.floor.reject[s]] for s in self.floor.good},
        }
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._state_path)
