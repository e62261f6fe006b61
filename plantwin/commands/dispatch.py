"""`plantwin dispatch (RUN_ID | SCHEDULE_FILE) --endpoint E`: send a checked schedule to the floor.

A stable contract: exit 0 and the job orders sent, or exit 2 and why (no verdict, a refused
verdict, a verdict for another plant or order book, a schedule changed since its verdict), the
message naming the reason and the runs involved, nothing sent and the refusal recorded. The
verdict is looked up in the history (`--db`) by the content hashes of the schedule, the plant it
was made for and its order book (`sync.dispatch`); there is no way to hand one in.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from plantwin.common import emit_json, err_console, report_errors
from plantwin.opcua_options import (
    CertOption,
    KeyOption,
    PasswordFileOption,
    SecurityOption,
    TrustOption,
    UserOption,
    client_security,
)
from plantwin.recording import DbOption, history_path, started_by
from sync.client import SyncClient
from sync.dispatch import DispatchResult, DispatchService, Target, target_of_run, target_of_schedule
from sync.security import Credentials, Security
from twin.errors import DispatchRefused, HistoryError
from twin.history import HistoryStore
from twin.loader import load_schedule

COMMAND = "dispatch"


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch)


@report_errors
def dispatch(
    what: Annotated[
        str,
        typer.Argument(
            metavar="RUN_ID | SCHEDULE_FILE", help="A run of the history, or a schedule JSON file."
        ),
    ],
    endpoint: Annotated[
        str, typer.Option(help="OPC UA endpoint of the floor, e.g. opc.tcp://127.0.0.1:4840.")
    ],
    db: DbOption = None,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    security: SecurityOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    trust: TrustOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Send a schedule the simulator accepted (its verdict found in the history) to the floor."""
    sec, credentials = client_security(user, password_file, security, cert, key, trust)
    path = history_path(db)
    if not path.is_file():
        raise HistoryError(f"{path}: no history yet: nothing has been planned or checked (or pass --db FILE)")
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    with HistoryStore(path) as store:
        service = DispatchService(store, started_by=started_by(COMMAND))
        target = _target(store, what)
        try:
            service.clear(target)  # refuse (and record it) before connecting to the floor
        except DispatchRefused as exc:
            _refused(exc, target, store, json_out)
        result = asyncio.run(_send(service, target, endpoint, sec, credentials))
    payload = {
        "dispatched": result.ok,
        "run_id": result.run_id,
        "verdict_run": result.verdict_run,
        "source_run": target.source,
        "schedule_hash": result.schedule_hash,
        "plant": target.plant.name,
        "endpoint": endpoint,
        "sent": result.sent,
        "refused": result.refused,
    }
    if json_out:
        emit_json(payload)
    else:
        err_console.print(
            f"plantwin: dispatched {len(result.sent)} job orders of schedule {result.schedule_hash[:12]} "
            f"to {endpoint} (verdict {result.verdict_run}; recorded {result.run_id})",
            highlight=False,
            markup=False,
        )
    if not result.ok:
        refused = ", ".join(f"{j} ({s})" for j, s in list(result.refused.items())[:8])
        err_console.print(
            f"plantwin: error: the floor refused {len(result.refused)} job orders: {refused}",
            highlight=False,
            markup=False,
        )
        raise SystemExit(2)


def _target(store: HistoryStore, what: str) -> Target:
    p = Path(what)
    if p.is_file() or p.suffix.lower() == ".json":
        return target_of_schedule(store, load_schedule(p), str(p))
    return target_of_run(store, what)


def _refused(exc: DispatchRefused, target: Target, store: HistoryStore, json_out: bool) -> None:
    if json_out:
        emit_json(
            {
                "dispatched": False,
                "reason": exc.reason,
                "message": str(exc),
                "runs": list(exc.runs),
                "source_run": target.source,
                "schedule_hash": target.schedule.content_hash(),
                "sent": [],
            }
        )
    raise exc


async def _send(
    service: DispatchService,
    target: Target,
    endpoint: str,
    sec: Security | None,
    credentials: Credentials | None,
) -> DispatchResult:
    client = SyncClient(target.plant, endpoint, security=sec, credentials=credentials)
    await client.connect()
    try:
        return await service.dispatch(client.ua_client, target)
    finally:
        await client.disconnect()
