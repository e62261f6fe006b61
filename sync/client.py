"""The sync client: subscribes to a plant's tags on any OPC UA server and keeps the twin current.

    SyncClient ── asyncua.Client (our own reconnect supervisor, capped back-off)
        │            └── one Subscription, iterator mode with a bounded queue that never
        │                drops: a full queue is a loss of the connection (see below)
        ├── LiveTracker (classify values, live state, counter reconciliation)
        └── BatchWriter ──> HistorySink (the history store, or a fake)

Connection loss: asyncua's supervisor notices it (a closed socket at once; a silent server
by its health probe every `watchdog_interval` (3 s) and the subscription keep-alive:
publishing interval x keep-alive count, 2 s here instead of asyncua's default of most of
an hour; a subscription silent for 1.5 keep-alive periods is re-created). Shorter settings
mistake a busy machine for a dead server (measured: 1 s probes on a 2-core machine at
load 8 reconnected in the middle of a benchmark). It reconnects with
exponential back-off capped at `reconnect_max_delay`, and restores the subscription. While
the client is not connected the live state is stale (`LiveState.stale`, `last_good`).
After every (re)connect this client reads the server's start time (a change means a
restart, see `LiveTracker.new_server_life`) and the current value of every tag, which
reconciles the cumulative counters: parts made while disconnected are counted once.

Notifications: asyncua's handler mode makes one asyncio task per notification (~20 us each,
and each value waits for the tasks before it: it showed as latency); its iterator mode puts
them in a queue, and by default silently drops the oldest when 1000 are waiting. This client
reads the queue (`_consume`) with a bound of `QUEUE_BOUND` notifications and asyncua's
DISCONNECT policy routed to our supervisor: a client that falls that far behind reconnects
(one log line) and re-reads every tag, so no count is lost and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asyncua import Client, Node, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent, Subscription
from asyncua.common.utils import ServiceError
from asyncua.crypto import security_policies
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sync.security import Credentials, Security, TrustList, certificate_uri, require_encryption
from sync.sink import BatchWriter, HistorySink
from sync.tags import Tag, parse_ref, plant_tags
from sync.tracker import LiveTracker, Outcome, Reading
from sync.watchers import NodeWatcher
from twin.errors import SyncError
from twin.live import LiveState
from twin.plant import Plant

log = logging.getLogger(__name__)
SUBSCRIBE_CHUNK = 500
QUEUE_BOUND = 200_000
"""Notifications waiting to be applied before the client counts as fallen behind (~20 s of a
10k values/s feed; a few hundred bytes each)."""
_START_NODE = f"i={ua.ObjectIds.Server_ServerStatus_StartTime}"


@dataclass(frozen=True)
class SyncStatus:
    """A one-line status: connected, values/s over the last interval, parts counted so far."""

    connected: bool
    values: int
    values_per_s: float
    produced: int
    scrapped: int
    reconnects: int
    stale: bool
    disconnected_since: float | None = None
    """Wall time (epoch seconds) the connection was lost, while it is."""

    def line(self) -> str:
        state = "connected"
        if not self.connected:
            since = self.disconnected_since
            state = "DISCONNECTED (stale)" + (
                f" since {datetime.fromtimestamp(since).astimezone():%H:%M:%S}" if since is not None else ""
            )
        return (
            f"{state}  values {self.values} ({self.values_per_s:.0f}/s)  produced {self.produced}  "
            f"scrapped {self.scrapped}  reconnects {self.reconnects}"
        )


class SyncClient:
    """Keeps a `LiveState` and the history current from an OPC UA server, given the plant's tag map."""

    def __init__(
        self,
        plant: Plant,
        endpoint: str,
        *,
        sink: HistorySink | None = None,
        security: Security | None = None,
        credentials: Credentials | None = None,
        publishing_interval: float = 0.1,
        keepalive_count: int = 20,
        reconnect_max_delay: float = 5.0,
        request_timeout: float = 10.0,
        watchdog_interval: float = 3.0,
        batch_rows: int = 1000,
        batch_age: float = 1.0,
        tracker: LiveTracker | None = None,
        on_value: Callable[[Outcome], None] | None = None,
        server_start: datetime | None = None,
        watchers: Sequence[NodeWatcher] = (),
    ) -> None:
        require_encryption(security, credentials, "credentials")
        self.plant = plant
        self.endpoint = endpoint
        self.tracker = tracker or LiveTracker(plant)
        self.tags = plant_tags(plant)
        self._security = security
        self._credentials = credentials
        self._interval = publishing_interval
        self._keepalive = keepalive_count
        self._max_delay = reconnect_max_delay
        self._timeout = request_timeout
        self._watchdog = watchdog_interval
        self._writer = (
            BatchWriter(sink, max_rows=batch_rows, max_age=batch_age, background=True)
            if sink is not None
            else None
        )
        self._on_value = on_value
        self._watchers = tuple(watchers)
        self._watched: dict[ua.NodeId, NodeWatcher] = {}
        self._client: Client | None = None
        self._by_node: dict[ua.NodeId, Tag] = {}
        self._node_of: dict[Tag, ua.NodeId] = {}
        self._start_time: datetime | None = server_start
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: asyncio.Task[None] | None = None
        self._sub: Subscription | None = None
        self._queue_bound = QUEUE_BOUND
        self._lost = asyncio.Event()
        self._generation = 0
        self._said_missing: list[str] = []
        self._said_unmonitored: list[str] = []
        self._lost_reason: str | None = None
        self.disconnected_since: float | None = None
        """Wall time (epoch seconds) the connection was last lost; None while never lost."""
        self.connected = False
        self.values = 0
        self.reconnects = 0

    # ---- lifecycle ----
    async def __aenter__(self) -> SyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    @property
    def live(self) -> LiveState:
        return self.tracker.live

    async def connect(self) -> None:
        """Connect, resolve the tag map, subscribe and read current values; then keep the
        connection (reconnecting on loss until `disconnect`).

        Raises:
            SyncError: the server is unreachable, refuses the session (security, user), has an
                untrusted certificate, or none of the tags resolves.
        """
        await self._open()
        self._tasks = [
            asyncio.create_task(self._supervise()),
            asyncio.create_task(self._flush_loop()),
        ]

    async def _open(self) -> None:
        """One full connection: a new asyncua client and session (authenticated), the tags
        resolved by namespace URI, one subscription, and a read of every tag.

        asyncua's own reconnect is off: it reuses the old session and subscription, and was
        seen to stop for good after a server restart (BadUserAccessDenied on ActivateSession,
        a failed subscription restore). `_supervise` instead builds everything anew, which
        converges whenever the server is reachable.
        """
        client = Client(self.endpoint, timeout=self._timeout, watchdog_intervall=self._watchdog)
        client.session_timeout = 60_000
        client.connection_lost_callback = self._connection_lost
        try:
            await self._configure(client)
            await client.connect(auto_reconnect=False)
        except (OSError, TimeoutError, ua.UaError, ConnectionError) as exc:
            client.disconnect_socket()  # nothing was opened that needs closing
            raise SyncError(f"{self.endpoint}: cannot connect: {_reason(exc)}") from exc
        except asyncio.CancelledError:  # disconnect() while (re)connecting: leave nothing open
            await _close_quietly(client)
            raise
        self._client = client
        self._generation += 1
        self._lost.clear()
        try:
            await self._resolve()
            await self._subscribe()
            await self._after_connect()
        except (OSError, TimeoutError, ua.UaError, ConnectionError) as exc:
            self._client, self._sub = None, None
            self._cancel_consumer()
            await _close_quietly(client)
            raise SyncError(f"{self.endpoint}: {_reason(exc)}") from exc
        except (SyncError, asyncio.CancelledError):
            self._client, self._sub = None, None
            self._cancel_consumer()
            await _close_quietly(client)
            raise

    async def _configure(self, client: Client) -> None:
        """Name, certificate and the server's trusted certificate, credentials: before any session.

        Raises:
            SyncError: no endpoint with the policy and mode asked for, or an untrusted server.
        """
        client.name = client.description = "plantwin sync"
        client.application_uri = f"urn:plantwin:sync:{uuid.uuid4()}"
        if self._security is not None:
            sec = self._security
            uri = certificate_uri(sec.cert)
            if uri:
                client.application_uri = uri
            policy = getattr(security_policies, f"SecurityPolicy{sec.policy}")
            mode = getattr(ua.MessageSecurityMode, sec.mode)
            # the endpoints come over an unsecured, sessionless channel: nothing secret is sent
            endpoints = await client.connect_and_get_server_endpoints()
            offered = [e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode]
            if not offered:
                have = ", ".join(
                    sorted(
                        {f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]},{e.SecurityMode.name}" for e in endpoints}
                    )
                )
                raise SyncError(
                    f"{self.endpoint}: the server offers no {sec.policy},{sec.mode} endpoint (it has {have})"
                )
            trust = self._trust_list()
            server_cert = trust.check(offered[0].ServerCertificate, self.endpoint)
            client.certificate_validator = self._validator(trust)
            await client.set_security(
                policy,
                str(sec.cert),
                str(sec.key),
                server_certificate=server_cert.public_bytes(Encoding.DER),
                mode=mode,
            )
        if self._credentials is not None:
            client.set_user(self._credentials.user)
            client.set_password(self._credentials.password)

    def _trust_list(self) -> TrustList:
        assert self._security is not None
        sec = self._security
        if sec.trust is None and sec.server_cert is None:
            raise SyncError(f"{self.endpoint}: a secured connection needs a trust list (Security.trust)")
        pinned = (sec.server_cert,) if sec.server_cert is not None else ()
        return TrustList(sec.trust or Path(sec.server_cert).parent, pinned)  # type: ignore[arg-type]

    def _validator(self, trust: TrustList) -> Callable[[x509.Certificate, Any], Any]:
        """asyncua's hook at CreateSession: the certificate the session is made with is checked too."""

        async def validate(cert: x509.Certificate, _app: Any) -> None:
            try:
                trust.check(cert.public_bytes(Encoding.DER), self.endpoint)
            except SyncError as exc:
                log.warning("%s", exc)
                raise ServiceError(ua.StatusCodes.BadCertificateUntrusted) from None

        return validate

    async def disconnect(self) -> None:
        """Stop watching, flush what is buffered, close the session."""
        for task in self._tasks:
            task.cancel()
        # a task that failed has said so through run(); its error is the writer's, raised below
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._end_consumer()
        if self._client is not None:
            client, self._client = self._client, None
            await _close_quietly(client)
        if self.connected:
            self.connected = False
            self.disconnected_since = time.time()
        self.tracker.mark_stale()
        if self._writer is not None:
            self._writer.close()

    def flush(self) -> None:
        """Store everything received so far (waits for the writer thread)."""
        if self._writer is not None:
            self._writer.flush()

    async def run(
        self,
        duration: float | None = None,
        *,
        on_status: Callable[[SyncStatus], None] | None = None,
        status_every: float = 5.0,
    ) -> SyncStatus:
        """Stay connected for `duration` seconds (None: until cancelled), reporting a status line
        every `status_every` seconds; return the last status."""
        deadline = None if duration is None else time.monotonic() + duration
        last_values, last_t = self.values, time.monotonic()
        status = self.status(0.0)
        while deadline is None or time.monotonic() < deadline:
            wait = status_every if deadline is None else min(status_every, deadline - time.monotonic())
            await self._sleep_or_fail(max(wait, 0.0))
            now = time.monotonic()
            status = self.status((self.values - last_values) / max(now - last_t, 1e-9))
            last_values, last_t = self.values, now
            if on_status is not None:
                on_status(status)
        return status

    async def _sleep_or_fail(self, seconds: float) -> None:
        """Sleep, but raise at once if a background task failed (a history write, say): the
        session ends with that error instead of going on without storing."""
        watched = [t for t in self._tasks if not t.done()]
        if watched:
            await asyncio.wait(watched, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        else:
            await asyncio.sleep(seconds)
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def status(self, rate: float) -> SyncStatus:
        produced = sum(self.tracker.produced(s.id) for s in self.plant.stations)
        scrapped = sum(self.tracker.scrapped(s.id) for s in self.plant.stations)
        return SyncStatus(
            self.connected,
            self.values,
            rate,
            produced,
            scrapped,
            self.reconnects,
            self.tracker.live.stale,
            None if self.connected else self.disconnected_since,
        )

    # ---- writes (for servers that reject timestamps, none are sent) ----
    async def write(self, tag: Tag, value: Any, vtype: ua.VariantType) -> None:
        """Write a tag's value with no source or server timestamp (some servers refuse them).

        Raises:
            SyncError: not connected, or the server refused the write.
        """
        if self._client is None:
            raise SyncError("not connected")
        node = self._client.get_node(self._node_of[tag])
        try:
            await node.write_attribute(ua.AttributeIds.Value, ua.DataValue(ua.Variant(value, vtype)))
        except ua.UaError as exc:
            raise SyncError(f"write {tag.station}.{tag.tag}: {exc}") from exc

    def node(self, tag: Tag) -> Node:
        """The asyncua node of a resolved tag (for method calls and writes)."""
        if self._client is None:
            raise SyncError("not connected")
        return self._client.get_node(self._node_of[tag])

    @property
    def ua_client(self) -> Client:
        if self._client is None:
            raise SyncError("not connected")
        return self._client

    # ---- resolution and subscription ----
    async def _resolve(self) -> None:
        """Each tag's node id on this server (namespaces by URI, browse paths browsed). A tag that
        does not resolve is not measured: one warning line lists them all; no tag at all is an
        error.

        Raises:
            SyncError: none of the plant's tags resolves on this server.
        """
        assert self._client is not None
        namespaces: list[str] = await self._client.get_namespace_array()
        self._by_node.clear()
        self._node_of.clear()
        missing: list[str] = []
        for tag in self.tags:
            try:
                nodeid = await self._node_id(tag, namespaces)
            except SyncError as exc:
                missing.append(str(exc))
                continue
            self._by_node[nodeid] = tag
            self._node_of[tag] = nodeid
        if missing and not self._by_node:
            raise SyncError(f"no tag of the plant is on this server: {'; '.join(missing[:5])}")
        if missing and self._said_missing != missing:
            log.warning(
                "not measured (%d tags not on %s): %s", len(missing), self.endpoint, "; ".join(missing)
            )
        self._said_missing = missing
        self._watched.clear()
        for watcher in self._watchers:
            for nodeid in await watcher.resolve(self._client):
                self._watched[nodeid] = watcher

    async def _node_id(self, tag: Tag, namespaces: list[str]) -> ua.NodeId:
        assert self._client is not None
        name = f"{tag.station}.{tag.tag}"
        try:
            p = parse_ref(tag.ref)
        except ValueError as exc:
            raise SyncError(f"{name}: {exc}") from None
        uri = p.namespace_uri
        if p.kind == "browse":
            uri = uri or self.plant.opcua.namespace_uri
            if uri not in namespaces:
                raise SyncError(f"{name}: namespace {uri!r} is not on the server")
            idx = namespaces.index(uri)
            path = [e if ":" in e else f"{idx}:{e}" for e in p.path]
            try:
                node = await self._client.nodes.objects.get_child(path)
            except ua.UaError as exc:
                raise SyncError(f"{name}: browse path {tag.ref!r} not found ({_reason(exc)})") from None
            return node.nodeid
        if uri is not None:
            if uri not in namespaces:
                raise SyncError(f"{name}: namespace {uri!r} is not on the server")
            idx = namespaces.index(uri)
        else:
            idx = p.namespace_index or 0
        ident: Any = p.identifier
        if p.id_type == "i":
            ident = int(p.identifier)
        elif p.id_type == "g":
            ident = uuid.UUID(p.identifier)
        elif p.id_type == "b":
            ident = p.identifier.encode()
        return ua.NodeId(ident, idx)

    async def _subscribe(self) -> None:
        """One subscription for every resolved tag; a node the server cannot monitor (unknown
        node id, no access) is not measured (one warning line) and not read."""
        assert self._client is not None
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=self._interval * 1000.0,
            RequestedLifetimeCount=self._keepalive * 3,
            RequestedMaxKeepAliveCount=self._keepalive,
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
            Priority=0,
        )
        self._queue_bound = QUEUE_BOUND
        sub = self._sub = await self._client.create_subscription(
            params, None, queue_maxsize=self._queue_bound, overflow=OverflowPolicy.DISCONNECT
        )
        sub.set_overflow_disconnect_handler(self._overflowed)
        self._start_consumer(sub)
        nodes = [self._client.get_node(n) for n in [*self._by_node, *self._watched]]
        results: list[int | ua.StatusCode] = []
        for i in range(0, len(nodes), SUBSCRIBE_CHUNK):  # short requests, also on a busy server
            chunk = nodes[i : i + SUBSCRIBE_CHUNK]
            results += await sub.subscribe_data_change(chunk, queuesize=100, sampling_interval=0.0)
        failed = []
        for node, res in zip(nodes, results, strict=True):
            if isinstance(res, ua.StatusCode) and node.nodeid in self._watched:
                log.warning("cannot monitor %s: %s", node.nodeid.to_string(), res.name)
            elif isinstance(res, ua.StatusCode):
                tag = self._by_node.pop(node.nodeid)
                self._node_of.pop(tag, None)
                failed.append(f"{tag.station}.{tag.tag} ({tag.ref}): {res.name}")
        if failed and failed != self._said_unmonitored:
            log.warning("not measured (%d tags cannot be monitored): %s", len(failed), "; ".join(failed))
        self._said_unmonitored = failed
        if not self._by_node:
            raise SyncError("the server cannot monitor any tag of the plant")

    async def _after_connect(self) -> None:
        """Server restart check, then the current value of every tag (reconciles counters)."""
        assert self._client is not None
        start = await self._client.get_node(
            ua.NodeId(ua.ObjectIds.Server_ServerStatus_StartTime)
        ).read_value()
        if self._start_time is not None and start != self._start_time:
            log.warning("server %s restarted (start time %s)", self.endpoint, start)
            self.tracker.new_server_life()
        self._start_time = start
        nodeids = [*self._by_node, *self._watched]
        values = await self._client.uaclient.read_attributes(nodeids, ua.AttributeIds.Value)
        if self._writer is not None and isinstance(start, datetime):
            self._writer.add(self.tracker.server_start_row(start, _START_NODE), [])
        for nodeid, dv in zip(nodeids, values, strict=True):
            self._on_datavalue(nodeid, dv)
        self.connected = True
        self.tracker.mark_fresh()

    def _on_datavalue(self, nodeid: ua.NodeId, dv: ua.DataValue) -> None:
        tag = self._by_node.get(nodeid)
        if tag is None:
            watcher = self._watched.get(nodeid)
            if watcher is not None:
                watcher.on_value(nodeid, dv)
            return
        status = dv.StatusCode or ua.StatusCode()
        reading = Reading(
            tag=tag,
            node_id=tag.ref,
            value=dv.Value.Value if dv.Value is not None else None,
            status_code=int(status.value),
            status_name=status.name,
            source_time=dv.SourceTimestamp,
            server_time=dv.ServerTimestamp,
        )
        outcome = self.tracker.ingest(reading)
        self.values += 1
        if self._writer is not None:
            self._writer.add(outcome.row, outcome.events)
        if self._on_value is not None:
            self._on_value(outcome)

    # ---- notifications ----
    def _start_consumer(self, sub: Subscription) -> None:
        """One task reads this subscription's notifications."""
        self._cancel_consumer()
        self._consumer = asyncio.create_task(self._consume(sub, self._generation))

    def _cancel_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
            self._consumer = None

    async def _end_consumer(self, timeout: float = 5.0) -> None:
        """End the subscription's queue (asyncua puts an end mark after what is waiting) and let
        the consumer apply what was received before the loss, bounded in time."""
        sub, task = self._sub, self._consumer
        self._sub, self._consumer = None, None
        if sub is not None:
            try:
                await asyncio.wait_for(sub.delete(), 2.0)  # local clean-up even when the server is gone
            except (OSError, TimeoutError, ua.UaError, ConnectionError) as exc:
                log.debug("deleting the subscription: %s", _reason(exc))
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout)
            except TimeoutError:
                log.warning("%d s were not enough to apply the values received before the loss", timeout)

    async def _consume(self, sub: Subscription, generation: int) -> None:
        """Apply data changes in the order the server sent them; a status change (the server
        ended the subscription) is a loss like any other."""
        async for event in sub:
            if isinstance(event, DataChangeEvent):
                self._on_datavalue(event.node.nodeid, event.data.monitored_item.Value)
            elif isinstance(event, StatusChangeEvent) and generation == self._generation:
                code = getattr(event.notification, "Status", event.notification)
                log.debug("subscription status change: %s", code)
                self._lost_reason = f"the server ended the subscription ({getattr(code, 'name', code)})"
                self._lost.set()

    def _overflowed(self) -> None:
        """asyncua's queue is full: this client fell `QUEUE_BOUND` notifications behind."""
        self._lost_reason = f"fell {self._queue_bound} notifications behind the server"
        self._lost.set()

    # ---- connection supervision ----
    async def _connection_lost(self, exc: Exception) -> None:
        """asyncua's supervisor noticed a loss (closed socket, failed health probe)."""
        self._lost_reason = _reason(exc)
        self._lost.set()

    async def _wait_lost(self) -> None:
        """Return when the connection is lost: a state other than CONNECTED, asyncua's callback,
        or a subscription the server ended."""
        assert self._client is not None
        async with self._client.uaclient.subscribe_state() as changes:
            while not self._lost.is_set() and self._client.uaclient.state is UaClientState.CONNECTED:
                waiter = asyncio.ensure_future(changes.next_change())
                lost = asyncio.ensure_future(self._lost.wait())
                try:
                    await asyncio.wait({waiter, lost}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for f in (waiter, lost):
                        f.cancel()
                    await asyncio.gather(waiter, lost, return_exceptions=True)

    async def _supervise(self) -> None:
        """Keep the connection: on a loss, one log line, then build the connection anew (session,
        authentication, subscription, a read of every tag) with capped back-off until it is
        back (one line), logging a failing attempt only when its reason changes."""
        while True:
            await self._wait_lost()
            lost_at = time.monotonic()
            self.connected = False
            self.disconnected_since = time.time()
            self.tracker.mark_stale()
            log.warning(
                "connection to %s lost: %s; reconnecting", self.endpoint, self._lost_reason or "closed"
            )
            await self._end_consumer()
            old, self._client = self._client, None
            if old is not None:
                await _close_quietly(old)
            self.flush()
            delay, said = 0.5, None
            while True:
                await asyncio.sleep(delay)
                try:
                    await self._open()
                except SyncError as exc:
                    reason = str(exc).removeprefix(f"{self.endpoint}: ")
                    if reason != said:
                        log.warning("still no connection to %s: %s (retrying)", self.endpoint, reason)
                        said = reason
                    delay = min(delay * 2, self._max_delay)
                    continue
                break
            self.reconnects += 1
            self._lost_reason = None
            log.warning("reconnected to %s after %.1f s", self.endpoint, time.monotonic() - lost_at)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            if self._writer is not None:
                self._writer.maybe_flush()


def _reason(exc: BaseException) -> str:
    """An exception as one short line (no traceback): its type, and its message if it has one."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text}" if text and text != name else name


async def _close_quietly(client: Client, timeout: float = 2.0) -> None:
    """Close a client's session and socket, bounded in time (a frozen server never answers)."""
    try:
        await asyncio.wait_for(client.disconnect(), timeout)
    except (OSError, TimeoutError, ua.UaError, ConnectionError) as exc:
        log.debug("closing the connection to %s: %s", client.server_url.geturl(), _reason(exc))
    finally:
        client.disconnect_socket()
