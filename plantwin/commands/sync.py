"""`plantwin sync`: keep the live state and the history current from an OPC UA server (sending a
schedule to the floor is `plantwin dispatch`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from plantwin import args
from plantwin.common import (
    UserExit,
    emit_json,
    err_console,
    open_plant,
    quiet_asyncua,
    report_errors,
)
from plantwin.opcua_options import (
    CertOption,
    KeyOption,
    PasswordFileOption,
    SecurityOption,
    TrustOption,
    UserOption,
    client_security,
)
from plantwin.recording import end_sync_session, start_sync_session
from sync.client import SyncClient, SyncStatus
from sync.livestate import LiveView
from sync.security import Credentials, Security
from sync.tracker import LiveTracker
from twin.history.counters import session_resume
from twin.history.publisher import SnapshotPublisher
from twin.history.store import HistoryStore

SNAPSHOT_EVERY = 30.0
"""Seconds between the Parquet snapshots readers use while sync holds the history file."""


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)


@report_errors
def sync(
    plant: Annotated[str, typer.Argument(help="Plant YAML file, or a shipped sample name.")],
    endpoint: Annotated[str, typer.Option(help="OPC UA endpoint, e.g. opc.tcp://127.0.0.1:4840.")],
    db: Annotated[
        Path | None, typer.Option(help="History file (DuckDB) to write values and events to.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    security: SecurityOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    trust: TrustOption = None,
    status_every: Annotated[float, typer.Option(help="Seconds between status lines.")] = 5.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object at the end.")] = False,
) -> None:
    """Subscribe to the plant's tags, keep the live state current, write values and events to --db.

    With --db, the session goes on from the counters the history holds (parts made while sync was
    down are counted), publishes snapshots for readers, and is recorded as a sync run. Exit 1 if
    it ends disconnected from the server."""
    args.endpoint("--endpoint", endpoint)
    args.number("--duration", duration, 0, args.MAX_WALL, what="seconds")
    args.number("--status-every", status_every, 0, args.MAX_TIME_LIMIT, lo_open=True, what="seconds")
    model, _, _ = open_plant(plant, warn=not json_out)
    quiet_asyncua()
    sec, credentials = client_security(user, password_file, security, cert, key, trust)
    store = HistoryStore(db) if db is not None else None
    try:
        result = asyncio.run(_run(model, endpoint, store, sec, credentials, duration, status_every, json_out))
    finally:
        if store is not None:
            store.close()
    if json_out:
        emit_json(result)
    if not result["connected"]:
        err_console.print(
            f"plantwin: error: the session ended disconnected from {endpoint}, "
            f"since {result['disconnected_since']} ({result['disconnected_for_s']:.0f} s)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise UserExit(1)


async def _run(
    model: Any,
    endpoint: str,
    store: Any,
    sec: Security | None,
    credentials: Credentials | None,
    duration: float | None,
    status_every: float,
    json_out: bool = False,
) -> dict[str, Any]:
    run_id = None
    tracker, server_start = None, None
    if store is not None:
        resume = session_resume(store)
        tracker, server_start = LiveTracker.resume(model, resume.values), resume.server_start
        run_id, interrupted = start_sync_session(
            store, command="sync", plant=model, params={"endpoint": endpoint}
        )
        for old in interrupted:
            err_console.print(
                f"plantwin: note: sync session {old} ended without a clean stop: marked interrupted",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    with contextlib.ExitStack() as stack:
        if store is not None:  # what readers see while this session holds the file
            stack.enter_context(SnapshotPublisher(store, every=SNAPSHOT_EVERY))
        view = LiveView(model, history=store)  # job responses and stock beside the station tags
        client = SyncClient(
            model,
            endpoint,
            sink=store,
            security=sec,
            credentials=credentials,
            tracker=tracker,
            server_start=server_start,
            watchers=view.watchers,
        )
        return await _session(client, view, store, duration, status_every, run_id)


async def _session(
    client: SyncClient,
    view: LiveView,
    store: Any,
    duration: float | None,
    status_every: float,
    run_id: str | None,
) -> dict[str, Any]:
    """Connect, sync until the end; the session's summary (and its record)."""
    endpoint = client.endpoint
    try:
        await client.connect()
    except BaseException:
        if store is not None and run_id is not None:
            store.set_status(run_id, "failed")
        raise
    out: dict[str, Any] = {"endpoint": endpoint, "run_id": run_id}
    try:
        task = asyncio.create_task(client.run(duration, on_status=_show, status_every=status_every))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        ended_connected = client.connected
        await client.disconnect()
        view.flush()
    status = client.status(0.0)
    since = client.disconnected_since
    out.update(
        {
            "values": status.values,
            "produced": status.produced,
            "scrapped": status.scrapped,
            "reconnects": status.reconnects,
            "statuses": client.tracker.status_counts,
            "counter_resets": {f"{s}.{t}": n for (s, t), n in client.tracker.lost_unknown.items()},
            "connected": ended_connected,
            "disconnected_since": None
            if ended_connected or since is None
            else datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"),
            "disconnected_for_s": 0.0 if ended_connected or since is None else round(time.time() - since, 1),
        }
    )
    if store is not None and run_id is not None:
        kpis = {k: out[k] for k in ("values", "produced", "scrapped", "reconnects")}
        out["status"] = end_sync_session(store, run_id, connected=ended_connected, kpis=kpis)
    return out


def _show(status: SyncStatus) -> None:
    """The one-line status, on stderr (stdout is kept for --json)."""
    err_console.print(status.line(), markup=False, highlight=False, soft_wrap=True)
