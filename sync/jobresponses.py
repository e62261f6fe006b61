"""Job responses (OPC 10031-4 job response provider): the wire contract and the client side.

The floor says per job order how far it is: its state, the quantity good and scrapped so far,
actual start and end, the equipment that works it (or whose buffer it waits in) and the
material consumed. A provider object (plantwin's virtual plant: `Objects/<site>/JobOrderResults`;
any server: `opcua.job_responses` in the plant file) offers

- `JobOrderResponseList`: a String variable holding a JSON array of job responses;
- `RequestJobResponseByJobOrderID(JobOrderID) -> (JobResponse, ReturnStatus)`;
- `RequestJobResponseByJobOrderIDAndState(JobOrderID, JobState[]) -> (JobResponse[], ReturnStatus)`
  (OPC 10031-4 v2 names this one RequestJobResponseByJobOrderState and takes only states).

A job response is a JSON object (the spec's ISA95JobResponseDataType is a structure; as with
job orders, a string keeps every client and server usable without custom types):

    {"JobOrderID": "SO-1/0", "JobState": "Running", "OrderID": "SO-1", "OperationIndex": 0,
     "Operation": "saw", "EquipmentID": "saw", "Machine": 0, "WaitingAt": null,
     "QuantityPlanned": 40, "QuantityGood": 12, "QuantityScrapped": 1,
     "StartTime": "2026-12-01T06:02:00+00:00", "EndTime": null, "MaterialConsumed": {"steel": 13.0}}

`WaitingAt` names the station whose buffer holds the job's material while it has not started
(null once it runs or while it is still upstream). `JobResponseWatcher` plugs into the sync
client: it subscribes to the list and reads it after every (re)connect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asyncua import Client, ua

from sync.joborders import Status, status_of
from sync.noderefs import resolve_path
from twin.errors import SyncError

log = logging.getLogger(__name__)

RESULTS = "JobOrderResults"
"""Browse name of the virtual plant's job response provider under its site folder."""
RESPONSE_LIST = "JobOrderResponseList"
BY_ID = "RequestJobResponseByJobOrderID"
BY_ID_AND_STATE = "RequestJobResponseByJobOrderIDAndState"


@dataclass(frozen=True)
class JobResponse:
    """What the floor reports on one job order (one operation of one order)."""

    job_id: str
    state: str
    order_id: str
    op_index: int
    operation: str | None = None
    station: str | None = None
    machine: int | None = None
    waiting_at: str | None = None
    planned: int = 0
    good: int = 0
    scrapped: int = 0
    start: datetime | None = None
    end: datetime | None = None
    consumed: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.order_id, self.op_index)

    @property
    def done_units(self) -> int:
        return self.good + self.scrapped

    def to_dict(self) -> dict[str, Any]:
        return {
            "JobOrderID": self.job_id,
            "JobState": self.state,
            "OrderID": self.order_id,
            "OperationIndex": self.op_index,
            "Operation": self.operation,
            "EquipmentID": self.station,
            "Machine": self.machine,
            "WaitingAt": self.waiting_at,
            "QuantityPlanned": self.planned,
            "QuantityGood": self.good,
            "QuantityScrapped": self.scrapped,
            "StartTime": self.start.isoformat() if self.start is not None else None,
            "EndTime": self.end.isoformat() if self.end is not None else None,
            "MaterialConsumed": dict(sorted(self.consumed.items())),
        }


def response_from_dict(data: dict[str, Any]) -> JobResponse:
    """A job response from its JSON object.

    Raises:
        KeyError, TypeError, ValueError: not a job response.
    """

    def when(key: str) -> datetime | None:
        value = data.get(key)
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    machine = data.get("Machine")
    return JobResponse(
        job_id=str(data["JobOrderID"]),
        state=str(data["JobState"]),
        order_id=str(data["OrderID"]),
        op_index=int(data["OperationIndex"]),
        operation=data.get("Operation"),
        station=data.get("EquipmentID"),
        machine=int(machine) if machine is not None else None,
        waiting_at=data.get("WaitingAt"),
        planned=int(data.get("QuantityPlanned", 0)),
        good=int(data.get("QuantityGood", 0)),
        scrapped=int(data.get("QuantityScrapped", 0)),
        start=when("StartTime"),
        end=when("EndTime"),
        consumed={str(k): float(v) for k, v in (data.get("MaterialConsumed") or {}).items()},
    )


def responses_to_json(responses: list[JobResponse]) -> str:
    """The JobOrderResponseList value."""
    return json.dumps([r.to_dict() for r in responses], sort_keys=True)


def responses_from_json(text: str | None) -> list[JobResponse]:
    """Job responses from a JobOrderResponseList value ('' or None: none).

    Raises:
        ValueError: not a JSON array of job responses (the message says which entry).
    """
    data = json.loads(text or "[]")
    if not isinstance(data, list):
        raise ValueError("JobOrderResponseList must be a JSON array")
    out = []
    for i, item in enumerate(data):
        try:
            out.append(response_from_dict(item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"JobOrderResponseList[{i}]: {exc!r}") from None
    return out


class JobResponseError(SyncError):
    """The provider refused a request (its ReturnStatus is not OK)."""

    def __init__(self, request: str, job_id: str, status: Status) -> None:
        self.status = status
        super().__init__(f"{request} {job_id}: ReturnStatus {int(status)} ({status.name})")


class JobResponseWatcher:
    """Keeps the latest job response per job order from a provider (a sync client watcher).

    `path` is the provider's browse path from Objects (elements without a prefix are in
    `namespace_uri`). `on_change` gets the responses that changed since the last value (for
    the history). A server without the provider is not an error: the watcher logs one line
    and the live state is built from the station tags alone.
    """

    def __init__(
        self,
        namespace_uri: str,
        path: str,
        *,
        epoch: datetime,
        on_change: Callable[[list[JobResponse]], None] | None = None,
    ) -> None:
        self.namespace_uri = namespace_uri
        self.path = path
        self.epoch = epoch
        self.responses: dict[str, JobResponse] = {}
        self.source_time: datetime | None = None
        self.available = False
        self._on_change = on_change
        self._list: ua.NodeId | None = None
        self._provider: ua.NodeId | None = None
        self.bad_values = 0

    async def resolve(self, client: Client) -> list[ua.NodeId]:
        try:
            provider = await resolve_path(client, self.path, self.namespace_uri)
            node = await client.get_node(provider).get_child(f"{provider.NamespaceIndex}:{RESPONSE_LIST}")
        except SyncError as exc:
            if self.available or self._provider is None:
                log.warning("no job responses: %s (live state from station tags only)", exc)
            self.available = False
            return []
        except ua.UaError as exc:
            log.warning("no job responses: %s has no %s (%s)", self.path, RESPONSE_LIST, exc)
            self.available = False
            return []
        self._provider, self._list, self.available = provider, node.nodeid, True
        return [node.nodeid]

    def on_value(self, nodeid: ua.NodeId, dv: ua.DataValue) -> None:
        status = dv.StatusCode or ua.StatusCode()
        if not status.is_good():
            self.bad_values += 1
            return
        try:
            found = responses_from_json(dv.Value.Value if dv.Value is not None else None)
        except (ValueError, TypeError) as exc:
            self.bad_values += 1
            log.warning("%s: %s", RESPONSE_LIST, exc)
            return
        if (
            self.source_time is not None
            and dv.SourceTimestamp is not None
            and dv.SourceTimestamp < self.source_time
        ):
            return  # an older list than the one held (a notification after a read)
        self.source_time = dv.SourceTimestamp or dv.ServerTimestamp or self.source_time
        fresh = {r.job_id: r for r in found}
        changed = [r for j, r in fresh.items() if self.responses.get(j) != r]
        self.responses = fresh
        if changed and self._on_change is not None:
            self._on_change(changed)

    @property
    def time(self) -> float | None:
        """Plant seconds of the list held (its source time), None before the first value."""
        return (self.source_time - self.epoch).total_seconds() if self.source_time is not None else None

    # ---- the request methods ----
    async def by_id(self, client: Client, job_id: str) -> JobResponse:
        """RequestJobResponseByJobOrderID.

        Raises:
            JobResponseError: the provider does not know the job order.
            SyncError: no provider, or a protocol failure.
        """
        text, status = await self._call(client, BY_ID, ua.Variant(job_id, ua.VariantType.String))
        if status != Status.OK:
            raise JobResponseError(BY_ID, job_id, status)
        return response_from_dict(json.loads(text))

    async def by_id_and_state(self, client: Client, job_id: str, states: list[str]) -> list[JobResponse]:
        """RequestJobResponseByJobOrderIDAndState (an empty `states`: any state).

        Raises:
            JobResponseError: the provider does not know the job order.
            SyncError: no provider, or a protocol failure.
        """
        texts, status = await self._call(
            client,
            BY_ID_AND_STATE,
            ua.Variant(job_id, ua.VariantType.String),
            ua.Variant(list(states), ua.VariantType.String, is_array=True),
        )
        if status != Status.OK:
            raise JobResponseError(BY_ID_AND_STATE, job_id, status)
        return [response_from_dict(json.loads(t)) for t in texts or []]

    async def _call(self, client: Client, name: str, *args: ua.Variant) -> tuple[Any, Status]:
        if self._provider is None:
            await self.resolve(client)
        if self._provider is None:
            raise SyncError(f"no job response provider at Objects/{self.path}")
        node = client.get_node(self._provider)
        try:
            method = await node.get_child(f"{self._provider.NamespaceIndex}:{name}")
            out = await node.call_method(method, *args)
        except ua.UaError as exc:
            raise SyncError(f"{name}: {exc}") from exc
        value, status = out
        return value, status_of(int(status))
