"""The virtual plant: an asyncua server whose address space follows the plant's tag map,
driven by a SimPy model of the floor in scaled real time.

The floor is the project's simulator, `sim.model.PlantModel`, behind an adapter
(`sync.virtual.simfloor`).

Address space: Objects / <site> / <line> / <station> folders holding each station's
variables, with the node ids of `Plant.tag_map` (namespace registered by URI, string
ids), plus a `JobOrderControl` object (the wire contract is `sync.joborders`).

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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import simpy
from asyncua import Server, ua, uamethod
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from sync.joborders import JOB_LIST, METHODS, RECEIVER, JobBook, Method, Status
from sync.jobresponses import BY_ID, BY_ID_AND_STATE, RESPONSE_LIST, RESULTS, responses_to_json
from sync.security import Credentials
from sync.tags import parse_ref
from sync.virtual.groundtruth import floor_state
from sync.virtual.receiver import JobReceiver
from sync.virtual.responses import ResponseLedger
from sync.virtual.simfloor import Record, SimFloor
from twin.drift import Drift
from twin.live import LiveState
from twin.live_json import live_from_json, live_to_json
from twin.orders import Order
from twin.plant import Plant
from twin.structure import structure_differences

log = logging.getLogger(__name__)

APPLICATION_URI = "urn:plantwin:virtual-plant"
RESPONSES_EVERY = 0.1
"""Wall seconds between two publications of the job response list (it is rebuilt whole)."""
FLOOR_EVERY = 0.5
"""Wall seconds between two saves of the floor state (counters are saved before every publish)."""


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


def tag_writes(rec: Record, floor: SimFloor) -> list[tuple[str, Any]]:
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
        truth: Plant | None = None,
        drifts: Sequence[Drift] = (),
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if truth is not None and (diff := structure_differences(plant, truth)):
            raise ValueError("the truth is not the same floor as the plant: " + "; ".join(diff))
        self.plant = plant
        self._plant_hash = plant.content_hash()
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
        self.receiver: JobReceiver | None = None
        self.responses: ResponseLedger | None = None
        self._saved: dict[str, Any] = {}
        self._responses_seen: Any = (None, None)
        self._floor_saved: tuple[float, str] = (-math.inf, "")
        self._stock_nodes: dict[str, ua.NodeId] = {}
        self._frozen = False
        self._stock_seen: dict[str, float] = {}
        self._pending: list[tuple[ua.NodeId, Any, ua.VariantType, float]] = []
        self._nodes: dict[tuple[str, str], ua.NodeId] = {}
        self._runner: asyncio.Task[None] | None = None
        self.env: simpy.Environment | None = None
        self.floor: SimFloor | None = None
        self.ns = 0

    @property
    def now(self) -> float:
        """The plant clock: seconds from the plant's epoch (the demo's clock; 0 before start)."""
        return float(self.env.now) if self.env is not None else 0.0

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
        resume = self._resume_state()
        self.floor = SimFloor(
            self.truth,
            self.env,
            seed=self._seed,
            observer=self._observe,
            initial_counts=counts,
            resume=resume,
            drifts=self.drifts,
        )
        self.receiver = JobReceiver(self.plant, self.floor, self.jobs)
        self.responses = ResponseLedger(self.plant, self.floor.model, self.jobs, stamp=self._stamp)
        self.responses.restore(self._saved.get("responses", []))
        self.floor.on_sim_record = self.responses.on_record
        if self._feed:
            if resume is not None:  # resume: everything the saved state does not call finished
                self.floor.feed(list(self._feed))
            else:
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
        self._save(full=True)
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
                refs.update({f"pv:{k}": v for k, v in tm.process_values.items() if v})
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
        if self.plant.materials:
            stock = await site.add_folder(ua.NodeId("Stock", self.ns), ua.QualifiedName("Stock", self.ns))
            for m in self.plant.materials:
                level = float(self.floor.model.materials[m.id].stock)
                node = await self._add_variable(
                    stock, self.plant.stock_tag(m.id), m.id, level, ua.VariantType.Double, ts
                )
                self._stock_nodes[m.id] = node
                self._stock_seen[m.id] = level
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
        ctl = await site.add_object(ua.NodeId(RECEIVER, ns), ua.QualifiedName(RECEIVER, ns))
        self._job_list = await ctl.add_variable(
            ua.NodeId(f"{RECEIVER}.{JOB_LIST}", ns),
            ua.QualifiedName(JOB_LIST, ns),
            "[]",
            ua.VariantType.String,
        )
        text, u64 = [ua.VariantType.String, ua.VariantType.String], [ua.VariantType.UInt64]
        for method in METHODS:
            await ctl.add_method(
                ua.NodeId(f"{RECEIVER}.{method.value}", ns),
                ua.QualifiedName(method.value, ns),
                self._method_handler(method),
                text,
                u64,
            )
        await self._build_response_provider(site)

    async def _build_response_provider(self, site: Any) -> None:
        """Objects/<site>/JobOrderResults: the job response list and its two request methods."""
        ns = self.ns
        results = await site.add_object(ua.NodeId(RESULTS, ns), ua.QualifiedName(RESULTS, ns))
        self._response_list = await results.add_variable(
            ua.NodeId(f"{RESULTS}.{RESPONSE_LIST}", ns),
            ua.QualifiedName(RESPONSE_LIST, ns),
            "[]",
            ua.VariantType.String,
        )
        await results.add_method(
            ua.NodeId(f"{RESULTS}.{BY_ID}", ns),
            ua.QualifiedName(BY_ID, ns),
            self._m_response_by_id,
            [ua.VariantType.String],
            [ua.VariantType.String, ua.VariantType.UInt64],
        )
        await results.add_method(
            ua.NodeId(f"{RESULTS}.{BY_ID_AND_STATE}", ns),
            ua.QualifiedName(BY_ID_AND_STATE, ns),
            self._m_response_by_id_and_state,
            [ua.VariantType.String, ua.VariantType.String],
            [ua.VariantType.String, ua.VariantType.UInt64],
        )

    def _find_responses(self, job_id: str) -> list[Any]:
        assert self.responses is not None
        return [r for r in self.responses.responses() if r.job_id == job_id]

    async def _m_response_by_id(self, parent: ua.NodeId, job_id: ua.Variant) -> list[ua.Variant]:
        found = self._find_responses(str(job_id.Value))
        text = json.dumps(found[0].to_dict(), sort_keys=True) if found else ""
        status = Status.OK if found else Status.UNKNOWN_JOB_ORDER
        return [ua.Variant(text, ua.VariantType.String), ua.Variant(int(status), ua.VariantType.UInt64)]

    async def _m_response_by_id_and_state(
        self, parent: ua.NodeId, job_id: ua.Variant, states: ua.Variant
    ) -> list[ua.Variant]:
        found = self._find_responses(str(job_id.Value))
        wanted = set(states.Value or [])
        hits = [json.dumps(r.to_dict(), sort_keys=True) for r in found if not wanted or r.state in wanted]
        status = Status.OK if found else Status.UNKNOWN_JOB_ORDER
        return [
            ua.Variant(hits, ua.VariantType.String, is_array=True),
            ua.Variant(int(status), ua.VariantType.UInt64),
        ]

    async def publish_responses(self) -> None:
        """Write the job response list (after every change on the floor or in the receiver)."""
        assert self.env is not None and self.responses is not None
        text = responses_to_json(self.responses.responses())
        dv = self._dv(text, ua.VariantType.String, self._stamp(self.env.now))
        await self.server.write_attribute_value(self._response_list.nodeid, dv)

    # ---- job order methods (args: JobOrder or JobOrderID, Comment; see sync.virtual.receiver) ----
    def _method_handler(self, method: Method) -> Any:
        @uamethod
        async def handler(parent: ua.NodeId, argument: str, comment: str) -> ua.Variant:
            status = self.receiver.call(method, argument)
            await self._publish_jobs()
            return ua.Variant(int(status), ua.VariantType.UInt64)

        return handler

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
        saved = published = wall0
        while True:
            if self._frozen:
                wall0, sim0 = loop.time(), self.env.now  # the clock stands; it goes on from here
            target = sim0 + (loop.time() - wall0) * self.speed
            if target > self.env.now:
                self.env.run(until=target)
            self._watch_stock()
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
            assert self.responses is not None
            version = (self.responses.version, text)
            # at most every RESPONSES_EVERY s (the whole list is rebuilt), at once for the receiver
            due = loop.time() - published >= RESPONSES_EVERY or version[1] != self._responses_seen[1]
            if version != self._responses_seen and due:
                self._responses_seen, published = version, loop.time()
                await self.publish_responses()
            await asyncio.sleep(self.tick)

    def _watch_stock(self) -> None:
        """Queue a write of every stock level that changed since the last step."""
        assert self.floor is not None and self.env is not None
        for mid, node in self._stock_nodes.items():
            level = float(self.floor.model.materials[mid].stock)
            if level != self._stock_seen[mid]:
                self._stock_seen[mid] = level
                self._pending.append((node, level, ua.VariantType.Double, self.env.now))

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
        self._saved = data
        return float(data["time"]), {k: (int(v[0]), int(v[1])) for k, v in data["counts"].items()}

    def _resume_state(self) -> LiveState | None:
        """The floor as the saved state left it (None: nothing saved, or a state without it)."""
        text = self._saved.get("floor")
        if not text:
            return None
        return live_from_json(text, self.plant.epoch, str(self._state_path))

    def freeze(self) -> None:
        """Stop the plant clock (the floor stands still; the server keeps serving and publishing)."""
        self._frozen = True

    def unfreeze(self) -> None:
        """Let the plant clock go on from where it stood."""
        self._frozen = False

    def ground_truth(self) -> LiveState:
        """The floor's own state now, read from the simulator (see `sync.virtual.groundtruth`)."""
        assert self.floor is not None
        return floor_state(self.floor)

    def _save(self, *, full: bool = False) -> None:
        """Counters and clock every time; the floor state and job responses (a larger document)
        at most every FLOOR_EVERY seconds of wall time, and always with `full` (on stop)."""
        if self._state_path is None or self.floor is None or self.env is None:
            return
        wall = time.monotonic()
        at, floor_text = self._floor_saved
        if full or wall - at >= FLOOR_EVERY:
            floor = live_to_json(
                floor_state(self.floor),
                self.plant.epoch,
                plant=self.plant.name,
                plant_hash=self._plant_hash,
                captured_at=datetime.now(UTC),
            )
            responses = self.responses.to_state() if self.responses is not None else []
            floor_text = json.dumps({"floor": json.dumps(floor), "responses": responses})
            self._floor_saved = (wall, floor_text)
        data = {
            "time": self.env.now,
            "counts": {s: [self.floor.good[s], self.floor.reject[s]] for s in self.floor.good},
        }
        text = json.dumps(data)
        if floor_text:  # splice the cached object's members in rather than encode them again
            text = f"{text[:-1]}, {floor_text[1:]}"
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self._state_path)
