"""The job-order wire contract (a documented subset of ISA-95 job control) and its one client.

OPC 10031-4 (ISA-95 job control), as reused by OPC 40001-3 Machinery job management, defines a
job order receiver, an object `JobOrderControl` with methods Store, StoreAndStart, Start,
Update, Stop, Cancel, Clear, Pause, Resume, Abort, RevokeStart and a list of job orders with
their states. plantwin's receiver lives at `Objects/<site>/JobOrderControl` (namespace: the
plant's `opcua.namespace_uri`) and offers all of them (`METHODS`), with the spec's job states:

                  ┌──────────RevokeStart──────────┐        Pause ┌─────────────┐
                  v                               │       ┌─────>│ Interrupted │──Resume─┐
    Store ──> NotAllowedToStart ──Start──> AllowedToStart ─(machine picks it)─> Running <─┘
              Update ⟲ │            StoreAndStart ─^  Update ⟲ │                │  │ (done)
                       └──Cancel──> Aborted <──Cancel──────────┘     Abort ─────┘  └──> Ended
                                       ^───────────────Abort (Running, Interrupted)     ^
                                                      Stop (Running, Interrupted) ──────┘
    Clear: forget an Ended or Aborted job order.

`TRANSITIONS` is that table: method -> (states it is allowed in, state after). A method
called in another state changes nothing and returns `Status.INVALID_STATE`.

Wire format: a job order travels as a JSON string (`job_to_json`; the spec's
ISA95JobOrderDataType is a structure, a string keeps the receiver usable from any client
without custom data types); Update takes the new JobOrder too, the other methods the
JobOrderID. Every method takes a Comment string as its last argument and returns a
ReturnStatus (UInt64), the spec's bit map (OPC 10031-4 annex B.2): bit 0 (value 1) no error,
bit 1 unknown job order id, bit 2 invalid job order command, bit 3 invalid job order status,
bit 4 unable to accept the job order, bit 32 invalid request; plantwin's reasons for refusing
a job order use the implementation-specific bits 33 and up (`Status`). The receiver
publishes its list as the JSON string variable `JobOrderList`: `[{"JobOrderID": ..., "State": ...}]`.

Everything on both sides of the wire is here: the `Job` record, its JSON, the states and
return codes, the receiver's book-keeping (`JobBook`, no IO), how a schedule becomes job
orders (`job_orders`, ids 'ORDER/op'), and `JobOrderClient`, the one client that the dispatch
service, the demo's release window and `serve` use to call a receiver.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from asyncua import Client, ua

from twin.errors import DispatchRefused, SyncError
from twin.orders import Order
from twin.schedule import Schedule


class JobControlError(SyncError):
    """The job order receiver refused a method call (its ReturnStatus is not OK)."""

    def __init__(self, method: Method, job_id: str, status: Status) -> None:
        self.method, self.job_id, self.status = method, job_id, status
        super().__init__(
            f"{method.value} {job_id}: refused by the receiver with ReturnStatus {int(status)} "
            f"({status.name}: {STATUS_TEXT.get(status, '')})"
        )


RECEIVER = "JobOrderControl"
"""Browse name of the receiver object under the plant's site folder."""
JOB_LIST = "JobOrderList"
"""Browse name of the receiver's job list variable (a JSON string)."""


class Method(StrEnum):
    """The job control methods of OPC 10031-4 (browse names of the receiver's methods)."""

    STORE = "Store"
    STORE_AND_START = "StoreAndStart"
    START = "Start"
    UPDATE = "Update"
    STOP = "Stop"
    CANCEL = "Cancel"
    CLEAR = "Clear"
    PAUSE = "Pause"
    RESUME = "Resume"
    ABORT = "Abort"
    REVOKE_START = "RevokeStart"


METHODS: tuple[Method, ...] = tuple(Method)
TAKES_JOB_ORDER = frozenset({Method.STORE, Method.STORE_AND_START, Method.UPDATE})
"""Methods whose first argument is a JobOrder (JSON); the others take a JobOrderID."""


class JobState(StrEnum):
    """The top-level job order states of OPC 10031-4."""

    NOT_ALLOWED_TO_START = "NotAllowedToStart"
    ALLOWED_TO_START = "AllowedToStart"
    RUNNING = "Running"
    INTERRUPTED = "Interrupted"
    ENDED = "Ended"
    ABORTED = "Aborted"


NOT_STARTED = frozenset({JobState.NOT_ALLOWED_TO_START, JobState.ALLOWED_TO_START})
ACTIVE = frozenset({JobState.RUNNING, JobState.INTERRUPTED})
FINISHED = frozenset({JobState.ENDED, JobState.ABORTED})

TRANSITIONS: dict[Method, tuple[frozenset[JobState], JobState | None]] = {
    Method.START: (frozenset({JobState.NOT_ALLOWED_TO_START}), JobState.ALLOWED_TO_START),
    Method.REVOKE_START: (frozenset({JobState.ALLOWED_TO_START}), JobState.NOT_ALLOWED_TO_START),
    Method.UPDATE: (NOT_STARTED, None),  # None: the state stays as it is
    Method.CANCEL: (NOT_STARTED, JobState.ABORTED),
    Method.PAUSE: (frozenset({JobState.RUNNING}), JobState.INTERRUPTED),
    Method.RESUME: (frozenset({JobState.INTERRUPTED}), JobState.RUNNING),
    Method.STOP: (ACTIVE, JobState.ENDED),
    Method.ABORT: (ACTIVE, JobState.ABORTED),
    Method.CLEAR: (FINISHED, None),  # the job order is forgotten
}
"""Method -> (states it may be called in, state after). Store/StoreAndStart create a job order."""


class Status(IntEnum):
    """ReturnStatus of the job order methods: the bit map of OPC 10031-4 annex B.2.

    The spec's bits: 0 no error, 1 unknown job order id, 2 invalid job order command (the
    receiver cannot carry it out, e.g. the floor cannot withdraw work), 3 invalid job order
    status (not allowed in the job order's state), 4 unable to accept the job order, 32
    invalid request. Refusals of a job order carry bit 4 plus one implementation bit saying why.
    """

    OK = 1 << 0
    UNKNOWN_JOB_ORDER = 1 << 1
    INVALID_COMMAND = 1 << 2
    INVALID_STATE = 1 << 3
    UNABLE_TO_ACCEPT = 1 << 4
    INVALID_REQUEST = 1 << 32
    DUPLICATE_JOB_ORDER = (1 << 4) | (1 << 33)
    INVALID_JOB_ORDER = (1 << 4) | (1 << 34)
    UNKNOWN_EQUIPMENT = (1 << 4) | (1 << 35)


STATUS_TEXT: dict[Status, str] = {
    Status.OK: "done",
    Status.UNKNOWN_JOB_ORDER: "the receiver knows no such job order",
    Status.INVALID_COMMAND: "the receiver cannot carry this out (the floor has already taken the work)",
    Status.INVALID_STATE: "not allowed in the job order's present state",
    Status.UNABLE_TO_ACCEPT: "the receiver cannot accept the job order",
    Status.INVALID_REQUEST: "invalid request",
    Status.DUPLICATE_JOB_ORDER: "a job order with this id is already stored",
    Status.INVALID_JOB_ORDER: "the job order is malformed or names an unknown product or operation",
    Status.UNKNOWN_EQUIPMENT: "the job order names an unknown station or machine",
}


def status_of(value: int) -> Status:
    """A ReturnStatus value as a `Status` (an unknown bit pattern: INVALID_REQUEST)."""
    try:
        return Status(int(value))
    except ValueError:
        return Status.INVALID_REQUEST


@dataclass(frozen=True)
class Job:
    """One job order: one operation of one order for one machine."""

    job_id: str
    order_id: str
    product: str
    op_index: int
    operation: str
    station: str
    machine: int
    quantity: int
    transfer_batch: int | None = None
    """Good units the floor hands on to the next operation together (the plan's lot splitting);
    None: the plant's routing step says. Optional on the wire, left out when None."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.order_id, self.op_index)


OPTIONAL_JOB_FIELDS = ("transfer_batch",)
JOB_FIELDS = tuple(f for f in Job.__dataclass_fields__ if f not in OPTIONAL_JOB_FIELDS)
"""The fields every job order has (the optional ones may be missing)."""


def job_to_json(job: Job) -> str:
    """The JobOrder argument of Store/StoreAndStart (optional fields only when set)."""
    data = asdict(job)
    for name in OPTIONAL_JOB_FIELDS:
        if data[name] is None:
            del data[name]
    return json.dumps(data, sort_keys=True)


def job_from_json(text: str) -> Job:
    """A job order from its JSON.

    Raises:
        ValueError, KeyError, TypeError: a malformed job order.
    """
    data: dict[str, Any] = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError("a job order is a JSON object")
    missing = [f for f in JOB_FIELDS if f not in data]
    if missing:
        raise KeyError(f"job order misses {', '.join(missing)}")
    job = Job(
        job_id=str(data["job_id"]),
        order_id=str(data["order_id"]),
        product=str(data["product"]),
        op_index=int(data["op_index"]),
        operation=str(data["operation"]),
        station=str(data["station"]),
        machine=int(data["machine"]),
        quantity=int(data["quantity"]),
        transfer_batch=None if data.get("transfer_batch") is None else int(data["transfer_batch"]),
    )
    if job.quantity < 1 or job.op_index < 0 or job.machine < 0:
        raise ValueError("job order: quantity >= 1, op_index >= 0 and machine >= 0 required")
    if job.transfer_batch is not None and job.transfer_batch < 1:
        raise ValueError("job order: transfer_batch >= 1 required")
    return job


def job_id_of(order_id: str, op_index: int) -> str:
    """The job order id of one scheduled operation: 'ORDER/op'."""
    return f"{order_id}/{op_index}"


def job_key(job_id: str) -> tuple[str, int] | None:
    """(order id, operation index) of a job id 'ORDER/op', or None for an id of another form."""
    order_id, _, op = job_id.rpartition("/")
    return (order_id, int(op)) if order_id and op.isdigit() else None


def job_orders(schedule: Schedule, orders: Sequence[Order]) -> list[Job]:
    """One job order per scheduled operation, in schedule order.

    Raises:
        DispatchRefused: an operation of an order that is not in `orders`.
    """
    product = {o.id: o.product for o in orders}
    jobs: list[Job] = []
    for op in schedule.operations:
        if op.order_id not in product:
            raise DispatchRefused(f"operation {op.key}: order {op.order_id!r} is not in the order book")
        jobs.append(
            Job(
                job_id=job_id_of(op.order_id, op.op_index),
                order_id=op.order_id,
                product=product[op.order_id],
                op_index=op.op_index,
                operation=op.operation,
                station=op.station,
                machine=op.machine,
                quantity=op.quantity,
                transfer_batch=op.transfer_batch,
            )
        )
    return jobs


@dataclass
class JobBook:
    """The receiver's list of job orders and their states (no IO): each method's transition.

    `history` keeps, per job id, the states it went through (for tests and the job responses).
    """

    jobs: dict[str, Job] = field(default_factory=dict)
    states: dict[str, JobState] = field(default_factory=dict)

    def store(self, job: Job, *, start: bool = False) -> Status:
        """Store (NotAllowedToStart) or, with `start`, StoreAndStart (AllowedToStart)."""
        if job.job_id in self.jobs:
            return Status.DUPLICATE_JOB_ORDER
        self.jobs[job.job_id] = job
        self.states[job.job_id] = JobState.ALLOWED_TO_START if start else JobState.NOT_ALLOWED_TO_START
        return Status.OK

    def allowed(self, method: Method, job_id: str) -> Status:
        """Whether `method` may be called on `job_id` now (OK), without changing anything."""
        state = self.states.get(job_id)
        if state is None:
            return Status.UNKNOWN_JOB_ORDER
        return Status.OK if state in TRANSITIONS[method][0] else Status.INVALID_STATE

    def apply(self, method: Method, job_id: str, job: Job | None = None) -> Status:
        """Carry out one method on `job_id` (Update: with the new `job`) if its state allows it."""
        status = self.allowed(method, job_id)
        if status != Status.OK:
            return status
        if method == Method.CLEAR:
            del self.states[job_id], self.jobs[job_id]
            return Status.OK
        if method == Method.UPDATE:
            if job is None or job.job_id != job_id:
                return Status.INVALID_JOB_ORDER
            self.jobs[job_id] = job
            return Status.OK
        after = TRANSITIONS[method][1]
        assert after is not None
        self.states[job_id] = after
        return Status.OK

    def start(self, job_id: str) -> Status:
        return self.apply(Method.START, job_id)

    def cancel(self, job_id: str) -> Status:
        return self.apply(Method.CANCEL, job_id)

    def clear(self, job_id: str) -> Status:
        return self.apply(Method.CLEAR, job_id)

    def running(self, job_id: str) -> None:
        """The floor started the job order's operation."""
        if self.states.get(job_id) == JobState.ALLOWED_TO_START:
            self.states[job_id] = JobState.RUNNING

    def ended(self, job_id: str) -> None:
        """The floor finished the job order's operation."""
        if self.states.get(job_id) in ACTIVE:
            self.states[job_id] = JobState.ENDED

    def to_json(self) -> str:
        """The JobOrderList value: per job order its id, state and the job order itself (as the
        spec's ISA95JobOrderAndStateDataType carries both)."""
        return json.dumps(
            [
                {"JobOrderID": j, "State": s.value, "JobOrder": asdict(self.jobs[j])}
                for j, s in self.states.items()
            ]
        )


def job_list_from_json(text: str | None) -> dict[str, str]:
    """Job id -> state name from a JobOrderList value (an empty list for None or '')."""
    data = json.loads(text or "[]")
    return {str(d["JobOrderID"]): str(d["State"]) for d in data}


def job_orders_from_list(text: str | None) -> dict[str, tuple[str, Job | None]]:
    """Job id -> (state, job order) from a JobOrderList value (None where the list omits the order)."""
    out: dict[str, tuple[str, Job | None]] = {}
    for d in json.loads(text or "[]"):
        job = d.get("JobOrder")
        out[str(d["JobOrderID"])] = (str(d["State"]), job_from_json(json.dumps(job)) if job else None)
    return out


class JobOrderClient:
    """Calls a job order receiver through a connected asyncua client (the only such client).

    `namespace_uri` is the plant's; `receiver` the browse path of the receiver object from
    Objects (default `<site>/JobOrderControl`). Node ids are resolved once per client.
    """

    def __init__(
        self, namespace_uri: str, site: str, *, receiver: str | None = None, comment: str = ""
    ) -> None:
        self.namespace_uri = namespace_uri
        self.receiver = receiver or f"{site}/{RECEIVER}"
        self.comment = comment or "plantwin"
        self._nodes: dict[str, ua.NodeId] = {}
        self._for: Client | None = None

    @classmethod
    def for_plant(cls, plant: Any, *, receiver: str | None = None, comment: str = "") -> JobOrderClient:
        """The client of `plant`'s receiver (`plant.opcua.namespace_uri`, `plant.site`)."""
        return cls(plant.opcua.namespace_uri, plant.site, receiver=receiver, comment=comment)

    async def _resolve(self, client: Client) -> dict[str, ua.NodeId]:
        if self._for is not client:
            self._nodes, self._for = {}, client
        if self._nodes:
            return self._nodes
        try:
            namespaces: list[str] = await client.get_namespace_array()
        except ua.UaError as exc:
            raise SyncError(f"job order receiver: cannot read the namespace array: {exc}") from exc
        if self.namespace_uri not in namespaces:
            raise SyncError(f"job order receiver: namespace {self.namespace_uri!r} is not on the server")
        idx = namespaces.index(self.namespace_uri)
        path = [e if ":" in e else f"{idx}:{e}" for e in self.receiver.split("/") if e]
        try:
            ctl = await client.nodes.objects.get_child(path)
            nodes = {"ctl": ctl.nodeid}
            for m in METHODS:
                nodes[m.value] = (await ctl.get_child(f"{idx}:{m.value}")).nodeid
            nodes[JOB_LIST] = (await ctl.get_child(f"{idx}:{JOB_LIST}")).nodeid
        except ua.UaError as exc:
            raise SyncError(f"no job order receiver at Objects/{self.receiver}: {exc}") from exc
        self._nodes = nodes
        return nodes

    async def call(self, client: Client, method: Method, argument: str, comment: str | None = None) -> Status:
        """Call one job control method (`argument`: a JobOrder JSON or a JobOrderID).

        Raises:
            SyncError: no receiver on the server, or the call failed at the protocol level.
        """
        nodes = await self._resolve(client)
        try:
            out = await client.get_node(nodes["ctl"]).call_method(
                nodes[method.value], ua.Variant(argument), ua.Variant(comment or self.comment)
            )
        except ua.UaError as exc:
            raise SyncError(f"{method.value} {argument[:80]}: {exc}") from exc
        return status_of(int(out))

    async def command(self, client: Client, method: Method, job: Job | str) -> None:
        """Call `method` on a job order and insist on success (`job`: the Job, or its id).

        Raises:
            JobControlError: the receiver refused; the message names the method, the job order,
                the ReturnStatus and what it means.
            SyncError: no receiver, or a protocol failure.
        """
        job_id = job if isinstance(job, str) else job.job_id
        if method in TAKES_JOB_ORDER:
            if isinstance(job, str):
                raise ValueError(f"{method.value} needs the job order, not only its id")
            argument = job_to_json(job)
        else:
            argument = job_id
        status = await self.call(client, method, argument)
        if status != Status.OK:
            raise JobControlError(method, job_id, status)

    async def update(self, client: Client, job: Job) -> Status:
        return await self.call(client, Method.UPDATE, job_to_json(job))

    async def revoke_start(self, client: Client, job_id: str) -> Status:
        return await self.call(client, Method.REVOKE_START, job_id)

    async def pause(self, client: Client, job_id: str) -> Status:
        return await self.call(client, Method.PAUSE, job_id)

    async def resume(self, client: Client, job_id: str) -> Status:
        return await self.call(client, Method.RESUME, job_id)

    async def stop(self, client: Client, job_id: str) -> Status:
        return await self.call(client, Method.STOP, job_id)

    async def abort(self, client: Client, job_id: str) -> Status:
        return await self.call(client, Method.ABORT, job_id)

    async def store(self, client: Client, job: Job) -> Status:
        return await self.call(client, Method.STORE, job_to_json(job))

    async def store_and_start(self, client: Client, job: Job) -> Status:
        return await self.call(client, Method.STORE_AND_START, job_to_json(job))

    async def start(self, client: Client, job_id: str) -> Status:
        return await self.call(client, Method.START, job_id)

    async def cancel(self, client: Client, job_id: str) -> Status:
        return await self.call(client, Method.CANCEL, job_id)

    async def clear(self, client: Client, job_id: str) -> Status:
        return await self.call(client, Method.CLEAR, job_id)

    async def job_list(self, client: Client) -> dict[str, tuple[str, Job | None]]:
        """Job id -> (state, job order) as the receiver lists them.

        Raises:
            SyncError: no receiver, or the list cannot be read.
        """
        nodes = await self._resolve(client)
        try:
            dv = await client.get_node(nodes[JOB_LIST]).read_data_value()
        except ua.UaError as exc:
            raise SyncError(f"{JOB_LIST}: {exc}") from exc
        return job_orders_from_list(dv.Value.Value)

    async def job_states(self, client: Client, epoch: Any = None) -> tuple[dict[str, str], float | None]:
        """Job id -> state as the receiver lists it, and the list's source time in plant seconds
        from `epoch` (an aware datetime; None: no time)."""
        nodes = await self._resolve(client)
        try:
            dv = await client.get_node(nodes[JOB_LIST]).read_data_value()
        except ua.UaError as exc:
            raise SyncError(f"{JOB_LIST}: {exc}") from exc
        t = None
        if epoch is not None and dv.SourceTimestamp is not None:
            t = (dv.SourceTimestamp - epoch).total_seconds()
        return job_list_from_json(dv.Value.Value), t
