"""`plantwin demo`: the closed loop in one process on embedded defaults (see docs/demo.md)."""

from __future__ import annotations

import asyncio
import contextlib
import webbrowser
from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console

from plantwin.common import emit_json, open_orders, open_plant, quiet_asyncua, report_errors
from plantwin.demo.config import DemoConfig, RushSpec, parse_seconds, parse_speed
from plantwin.demo.continuity import carried_over, start_fresh
from plantwin.demo.loop import Demo, dashboard_dispatcher
from plantwin.recording import DbOption, history_path
from plantwin.signals import keep_signal_handlers
from plantwin.web import DashboardThread, services_for
from twin.drift import parse_drift
from twin.errors import InputError, Issue
from twin.history import HistoryStore
from twin.history.publisher import SnapshotPublisher


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


@report_errors
def demo(
    speed: Annotated[
        str, typer.Option(help="Plant seconds per wall second, or 'high' (600).", show_default=True)
    ] = "60",
    duration: Annotated[
        str | None, typer.Option(help="Stop after this long (seconds, or 60s/5m/1h); default: Ctrl-C.")
    ] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")] = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start the week again: move the history aside, reset the plant.")
    ] = False,
    drift: Annotated[
        list[str] | None,
        typer.Option(
            help="Run a drifting floor: PRODUCT.OPERATION=RATE%/day, e.g. PUMP-S.mill=+2%/day (repeatable)."
        ),
    ] = None,
    db: DbOption = None,
    port: Annotated[int, typer.Option(help="Dashboard port (on 127.0.0.1).", min=0, max=65535)] = 8050,
    rush_after: Annotated[
        str, typer.Option(help="Wall time after the first dispatch when the rush order arrives.")
    ] = "12s",
    no_rush: Annotated[bool, typer.Option("--no-rush", help="No scripted rush order.")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the demo run's KPIs as JSON at the end.")
    ] = False,
) -> None:
    """Run the closed loop: virtual plant, sync, history, planner, dispatch and dashboard."""
    cfg = DemoConfig(
        db=history_path(db),
        speed=parse_speed(speed),
        duration=parse_seconds(duration) if duration is not None else None,
        fresh=fresh,
        port=port,
        rush=None if no_rush else RushSpec(after=parse_seconds(rush_after, "--rush-after")),
        open_browser=not no_browser,
    )
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    # asyncua warns about every anonymous, unsigned session: expected on 127.0.0.1
    quiet_asyncua()
    plant, path, _ = open_plant(cfg.plant)
    if drift:
        cfg = replace(cfg, drifts=tuple(parse_drift(d, plant) for d in drift))
    book = open_orders(plant, path, None)
    if not book:
        raise InputError(Issue("the demo plant ships no order book", str(path)))
    assert cfg.db is not None
    cfg.db.parent.mkdir(parents=True, exist_ok=True)
    if fresh:
        for moved in start_fresh(cfg.db):
            console.print(f"plantwin demo: --fresh: kept the old history as {moved}")
    store = HistoryStore(cfg.db)
    try:
        carried = carried_over(store)
        if carried.runs and not fresh:
            console.print(
                f"plantwin demo: continuing {cfg.db} ({carried.runs} earlier demo run(s), "
                f"{len(carried.completed)} order(s) finished, "
                f"last dispatched plan {carried.last_plan or 'none'})"
            )
        with SnapshotPublisher(store, every=30.0):  # what other processes read while this one holds the file
            kpis = asyncio.run(_run(cfg, plant, book, store, carried, console))
    finally:
        store.close()
    console.print(
        f"plantwin demo: stopped; floor produced {kpis['floor_produced']} scrapped {kpis['floor_scrapped']}, "
        f"sync counted {kpis['sync_produced']} / {kpis['sync_scrapped']}; history {cfg.db}"
    )
    if json_out:
        emit_json(kpis)


async def _run(cfg: DemoConfig, plant, book, store, carried, console: Console) -> dict:  # type: ignore[no-untyped-def]
    demo = Demo(cfg, plant, book, store, carried, console)
    loop = asyncio.get_running_loop()
    keep_signal_handlers(loop, demo.stop.set)
    services = services_for(store, plant, demo.live, dashboard_dispatcher(demo, loop))
    web = DashboardThread(services, cfg.host, cfg.port)
    web.start()
    console.print(f"plantwin demo: dashboard at [bold]{web.url}[/]  (Ctrl-C stops; history {cfg.db})")
    if cfg.open_browser:
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(web.url)
    try:
        return await demo.run()
    finally:
        web.stop()
