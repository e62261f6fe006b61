"""`plantwin serve --config FILE`: sync, history, planner and dashboard for a real plant (docs/demo.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from plantwin.commands.dashboard import ENV_USERS, is_loopback, load_users
from plantwin.common import emit_json, open_orders, open_plant, quiet_asyncua, report_errors
from plantwin.recording import history_path
from plantwin.replications import ExecutorOption, WorkersOption, open_executor
from plantwin.service import ServeConfig, Service, load_serve_config, parse_seconds, serve_dispatcher
from plantwin.signals import keep_signal_handlers
from plantwin.web import DashboardThread, services_for
from twin.errors import InputError, Issue
from twin.history import HistoryStore
from twin.history.publisher import SnapshotPublisher


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


@report_errors
def serve(
    config: Annotated[Path, typer.Option(help="The service's YAML configuration (see docs/demo.md).")],
    duration: Annotated[
        str | None, typer.Option(help="Stop after this long (seconds, or 60s/5m/1h); default: Ctrl-C.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the session's KPIs as JSON at the end.")
    ] = False,
    executor: ExecutorOption = "local",
    workers: WorkersOption = 2,
) -> None:
    """Keep a real plant's twin: sync from OPC UA, history, dashboard, planner, periodic re-check."""
    cfg = load_serve_config(config)
    seconds = parse_seconds(duration) if duration is not None else None
    users = load_users(cfg.dashboard.users_file)
    if not is_loopback(cfg.dashboard.host) and not users:
        raise InputError(
            Issue(
                f"refusing to serve the dashboard on {cfg.dashboard.host} without authentication: "
                f"set dashboard.users_file or {ENV_USERS}",
                str(config),
            )
        )
    plant, path, _ = open_plant(cfg.plant)
    book = open_orders(plant, path, cfg.orders)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    quiet_asyncua()
    db = history_path(str(cfg.db) if cfg.db is not None else None)
    db.parent.mkdir(parents=True, exist_ok=True)
    store = HistoryStore(db)
    try:
        with (
            open_executor(executor, workers, start="spawn") as pool,  # threads: OPC UA, dashboard
            SnapshotPublisher(store, every=30.0),  # what other processes read while this one holds the file
        ):
            kpis = asyncio.run(_run(cfg, plant, book, store, console, seconds, users, pool.executor))
    finally:
        store.close()
    if json_out:
        emit_json(kpis)


async def _run(
    cfg: ServeConfig,
    plant: Any,
    book: Any,
    store: HistoryStore,
    console: Console,
    duration: float | None,
    users: dict[str, str],
    executor: Any = None,
) -> dict[str, Any]:
    service = Service(cfg, plant, book, store, console, executor)
    loop = asyncio.get_running_loop()
    keep_signal_handlers(loop, service.stop.set)
    services = services_for(store, plant, service.live, serve_dispatcher(service, loop))
    web = DashboardThread(services, cfg.dashboard.host, cfg.dashboard.port, users=users or None)
    web.start()
    console.print(f"plantwin serve: dashboard at [bold]{web.url}[/]  (Ctrl-C stops; history {store.path})")
    try:
        return await service.run(duration)
    finally:
        web.stop()
