"""Recording results in the history: where the file is, opening it, and one typed helper per
kind of run, so every command records the same way.

    with open_history(db, enabled=not no_history) as store:
        run_id = record_plan(store, command="plan", plant=plant, orders=orders, schedule=schedule)

Open the store late and briefly (after the work, around the writes): DuckDB lets one process
hold the file, so a command that keeps it open blocks every other. Each helper writes its run
and details in one transaction, so a run is in the history whole or not at all. With
`--no-history` the store is None and the helpers return None.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from plantwin.common import err_console
from plantwin.history_wait import open_for_write
from twin.errors import HistoryError, HistoryLockedError
from twin.history import SCHEMA_VERSION, HistoryStore, verdicts
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.stats import Estimate
from twin.verdict import Verdict

ENV_DB = "PLANTWIN_DB"

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=f"History file (default: ${ENV_DB}, else ~/.local/share/plantwin/history.duckdb).",
        show_default=False,
    ),
]
NoHistoryOption = Annotated[bool, typer.Option("--no-history", help="Do not record this run in the history.")]


def history_path(db: str | None = None) -> Path:
    """The history file: `--db`, else $PLANTWIN_DB, else $XDG_DATA_HOME/plantwin/history.duckdb
    (XDG_DATA_HOME defaults to ~/.local/share)."""
    if db:
        return Path(db).expanduser()
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path("~/.local/share").expanduser())
    return Path(data_home) / "plantwin" / "history.duckdb"


def snapshot_path(db_file: Path) -> Path:
    """Where the service that holds `db_file` publishes its Parquet snapshots."""
    return Path(str(db_file) + ".snapshot")


@contextmanager
def open_history(db: str | None, enabled: bool = True) -> Iterator[HistoryStore | None]:
    """The history store to write to (created and migrated if needed), or None when disabled.

    A file held by another process is waited for, then the run is saved beside it
    (`plantwin.history_wait`): a finished result is never thrown away.
    """
    if not enabled:
        yield None
        return
    store = open_for_write(history_path(db))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def open_history_reader(db: str | None) -> Iterator[HistoryStore]:
    """The history store to read from: the file read-only (migrated first if it is older), or,
    while a service holds the file, the Parquet snapshot it publishes (said on stderr).

    Raises:
        HistoryLockedError: the file is held and no snapshot is published.
        HistoryError: there is no history file yet.
    """
    path = history_path(db)
    if not path.is_file():
        raise HistoryError(f"{path}: no history yet (nothing has been recorded; or pass --db FILE)")
    try:
        if HistoryStore.file_version(path) < SCHEMA_VERSION:
            HistoryStore(path).close()  # forward migration, once
        store = HistoryStore(path, read_only=True)
    except HistoryError as exc:
        snap = snapshot_path(path)
        if not isinstance(exc, HistoryLockedError) or not (snap / "CURRENT").is_file():
            raise
        store = HistoryStore.open_snapshot(snap)
        err_console.print(
            f"plantwin: note: {path} is held by a running service; reading its snapshot {store.path}",
            highlight=False,
            markup=False,
        )
    try:
        yield store
    finally:
        store.close()


def started_by(command: str) -> str:
    """Who/what started a run: 'plantwin plan (user@host)'."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"plantwin {command} ({user}@{socket.gethostname()})"


def report_recorded(store: HistoryStore | None, run_id: str | None) -> None:
    """Say on stderr where a run was recorded (nothing when history is off)."""
    if store is not None and run_id is not None:
        err_console.print(f"plantwin: recorded {run_id} in {store.path}", highlight=False, markup=False)


def record_plan(
    store: HistoryStore | None,
    *,
    command: str,
    plant: Plant,
    orders: Sequence[Order] | None,
    schedule: Schedule,
    params: dict[str, Any] | None = None,
    kpis: dict[str, Any] | None = None,
    parent: str | None = None,
    status: str = "ok",
) -> str | None:
    """Record a plan run and its schedule (one transaction)."""
    if store is None:
        return None
    with store.transaction():
        run_id = store.record_run(
            "plan", started_by=started_by(command), plant=plant, orders=orders, params=params,
            kpis={"makespan": schedule.makespan, **(kpis or {})}, parent=parent, status=status,
        )  # fmt: skip
        store.add_schedule(run_id, schedule)
    return run_id


def record_simulation(
    store: HistoryStore | None,
    *,
    command: str,
    plant: Plant,
    orders: Sequence[Order] | None,
    operations: pd.DataFrame,
    order_results: pd.DataFrame,
    states: pd.DataFrame,
    estimates: dict[str, Estimate] | None = None,
    schedule: Schedule | None = None,
    params: dict[str, Any] | None = None,
    kpis: dict[str, Any] | None = None,
    parent: str | None = None,
    status: str = "ok",
) -> str | None:
    """Record a simulation run: per-replication frames, KPI estimates, and the schedule it ran."""
    if store is None:
        return None
    with store.transaction():
        run_id = store.record_run(
            "simulation", started_by=started_by(command), plant=plant, orders=orders, params=params,
            kpis=kpis, parent=parent, status=status,
        )  # fmt: skip
        if schedule is not None:
            store.add_schedule(run_id, schedule)
        store.add_simulation(
            run_id, operations=operations, orders=order_results, states=states, kpis=estimates
        )
    return run_id


def record_verdict(
    store: HistoryStore | None,
    *,
    command: str,
    plant: Plant,
    orders: Sequence[Order] | None,
    verdict: Verdict,
    schedule: Schedule | None = None,
    params: dict[str, Any] | None = None,
    parent: str | None = None,
) -> str | None:
    """Record the simulator's verdict on a schedule (`twin.history.verdicts.record_verdict`: found
    later by its schedule, plant and order-book hashes; status 'ok' if accepted, else 'refused')."""
    if store is None:
        return None
    return verdicts.record_verdict(
        store, verdict, plant=plant, orders=list(orders or ()), started_by=started_by(command),
        schedule=schedule, params=params, parent=parent,
    )  # fmt: skip


def record_run(
    store: HistoryStore | None,
    kind: str,
    *,
    command: str,
    plant: Plant | None = None,
    orders: Sequence[Order] | None = None,
    schedule: Schedule | None = None,
    params: dict[str, Any] | None = None,
    kpis: dict[str, Any] | None = None,
    estimates: dict[str, Estimate | float] | None = None,
    parent: str | None = None,
    status: str = "ok",
    extra_files: dict[str, str] | None = None,
) -> str | None:
    """Record any other run (scenario, dispatch, sync, demo) with an optional schedule and KPI
    estimates, in one transaction."""
    if store is None:
        return None
    with store.transaction():
        run_id = store.record_run(
            kind, started_by=started_by(command), plant=plant, orders=orders, params=params, kpis=kpis,
            parent=parent, status=status, extra_files=extra_files,
        )  # fmt: skip
        if schedule is not None:
            store.add_schedule(run_id, schedule)
        if estimates:
            store.add_kpis(run_id, estimates)
    return run_id


def record_scenario(store: HistoryStore | None, *, command: str, **fields: Any) -> str | None:
    """Record a what-if scenario (parent: its baseline run); fields as for record_run."""
    return record_run(store, "scenario", command=command, **fields)


def record_dispatch(store: HistoryStore | None, *, command: str, **fields: Any) -> str | None:
    """Record a dispatch to the floor (parent: the verdict that allowed it)."""
    return record_run(store, "dispatch", command=command, **fields)


SYNC_RUNNING = "running"
SYNC_INTERRUPTED = "interrupted"
SYNC_DISCONNECTED = "disconnected"


def record_sync(store: HistoryStore | None, *, command: str, **fields: Any) -> str | None:
    """Record a sync session (its actuals go through record_actuals)."""
    return record_run(store, "sync", command=command, **fields)


def start_sync_session(
    store: HistoryStore, *, command: str, plant: Plant, params: dict[str, Any]
) -> tuple[str, list[str]]:
    """Record a new sync session as 'running', and mark every session still 'running' in this file
    as 'interrupted': this process holds the file for writing, so their process is gone
    (kill -9, a crash, a power cut) without a clean stop. Returns the new run and those marked."""
    stale = store.list_runs(kind="sync", status=SYNC_RUNNING, limit=1000)
    marked = [str(r) for r in stale["id"]] if len(stale) else []
    with store.transaction():
        for run_id in marked:
            store.set_status(run_id, SYNC_INTERRUPTED)
        run_id = store.record_run(
            "sync", started_by=started_by(command), plant=plant, params=params, status=SYNC_RUNNING
        )
    return run_id, marked


def end_sync_session(store: HistoryStore, run_id: str, *, connected: bool, kpis: dict[str, Any]) -> str:
    """Close a sync session: 'ok' if it ended connected, else 'disconnected'; returns the status."""
    status = "ok" if connected else SYNC_DISCONNECTED
    store.set_status(run_id, status, kpis=kpis)
    return status


def record_demo(store: HistoryStore | None, *, command: str = "demo", **fields: Any) -> str | None:
    """Record a closed-loop demo run."""
    return record_run(store, "demo", command=command, **fields)


def record_actuals(
    store: HistoryStore | None,
    *,
    values: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> int:
    """Append a batch of floor actuals (tag values and/or derived events); rows written."""
    if store is None:
        return 0
    written = 0
    with store.transaction():
        if values is not None and len(values):
            written += store.add_actual_values(values)
        if events is not None and len(events):
            written += store.add_actual_events(events)
    return written
