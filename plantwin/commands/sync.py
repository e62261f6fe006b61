"""`plantwin sync`: keep the live state and the history current from an OPC UA server; dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from plantwin import args
from plantwin.common import emit_json, err_console, open_orders, open_plant, report_errors
from sync.client import SyncClient, SyncStatus
from sync.dispatch import Dispatcher, check_dispatchable, load_verdict
from sync.security import Credentials, Security
from twin.errors import InputError, Issue
from twin.history.store import HistoryStore
from twin.loader import load_schedule


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
    user: Annotated[str | None, typer.Option(help="User name (with --password-file).")] = None,
    password_file: Annotated[Path | None, typer.Option(help="File holding the password.")] = None,
    security: Annotated[
        str | None, typer.Option(help="'Basic256Sha256,Sign' or 'Basic256Sha256,SignAndEncrypt'.")
    ] = None,
    cert: Annotated[Path | None, typer.Option(help="Client certificate (DER or PEM).")] = None,
    key: Annotated[Path | None, typer.Option(help="Client private key (PEM).")] = None,
    dispatch: Annotated[Path | None, typer.Option(help="Schedule (JSON) to send to the floor first.")] = None,
    verdict: Annotated[
        Path | None, typer.Option(help="The simulator's verdict on --dispatch (JSON).")
    ] = None,
    orders: Annotated[
        str | None, typer.Option(help="Order book of --dispatch (default: the plant's).")
    ] = None,
    status_every: Annotated[float, typer.Option(help="Seconds between status lines.")] = 5.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object at the end.")] = False,
) -> None:
    """Subscribe to the plant's tags, keep the live state current, write values and events to --db."""
    args.endpoint("--endpoint", endpoint)
    args.number("--duration", duration, 0, args.MAX_WALL, what="seconds")
    args.number("--status-every", status_every, 0, args.MAX_TIME_LIMIT, lo_open=True, what="seconds")
    model, path, _ = open_plant(plant, warn=not json_out)
    credentials = None
    if user is not None:
        if password_file is None or not password_file.is_file():
            raise InputError(Issue("--user needs a readable --password-file", "--password-file"))
        credentials = Credentials(user, password_file.read_text().strip())
    sec = Security.parse(security, cert, key) if security is not None else None
    job = None
    if dispatch is not None:
        schedule = load_schedule(dispatch)
        the_verdict = load_verdict(verdict) if verdict is not None else None
        book = open_orders(model, path, orders) or []
        job = (schedule, the_verdict, book)
        if db is None:
            check_dispatchable(schedule, the_verdict)  # refuse before connecting; with --db it is recorded
    store = HistoryStore(db) if db is not None else None
    try:
        result = asyncio.run(
            _run(model, endpoint, store, sec, credentials, duration, status_every, job, json_out)
        )
    finally:
        if store is not None:
            store.close()
    if json_out:
        emit_json(result)


async def _run(
    model: Any,
    endpoint: str,
    store: Any,
    sec: Security | None,
    credentials: Credentials | None,
    duration: float | None,
    status_every: float,
    job: Any,
    json_out: bool = False,
) -> dict[str, Any]:
    run_id = None
    if store is not None:
        run_id = store.record_run("sync", started_by="sync", plant=model, params={"endpoint": endpoint})
    client = SyncClient(model, endpoint, sink=store, security=sec, credentials=credentials)
    await client.connect()
    out: dict[str, Any] = {"endpoint": endpoint, "run_id": run_id}
    try:
        if job is not None:
            schedule, the_verdict, book = job
            res = await Dispatcher(model, recorder=store).dispatch(
                client.ua_client, schedule, the_verdict, book
            )
            out["dispatch"] = {"sent": len(res.sent), "refused": res.refused, "run_id": res.run_id}
            err_console.print(
                f"dispatched {len(res.sent)} job orders, {len(res.refused)} refused", markup=False
            )
        task = asyncio.create_task(client.run(duration, on_status=_show, status_every=status_every))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await client.disconnect()
    status = client.status(0.0)
    out.update(
        {
            "values": status.values,
            "produced": status.produced,
            "scrapped": status.scrapped,
            "reconnects": status.reconnects,
            "statuses": client.tracker.status_counts,
            "counter_resets": {f"{s}.{t}": n for (s, t), n in client.tracker.lost_unknown.items()},
        }
    )
    if store is not None and run_id is not None:
        kpis = {k: out[k] for k in ("values", "produced", "scrapped", "reconnects")}
        store.set_status(run_id, "ok", kpis=kpis)
    return out


def _show(status: SyncStatus) -> None:
    """The one-line status, on stderr (stdout is kept for --json)."""
    err_console.print(status.line(), markup=False, highlight=False)
