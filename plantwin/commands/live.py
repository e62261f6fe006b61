"""`plantwin live`: the floor now, from OPC UA alone (station tags, job responses, stock levels)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from plantwin.common import emit_json, open_plant, out_console, report_errors
from plantwin.livesource import read_live
from plantwin.opcua_options import (
    CertOption,
    KeyOption,
    PasswordFileOption,
    SecurityOption,
    TrustOption,
    UserOption,
    client_security,
)
from twin.live_json import live_to_json


def register(app: typer.Typer) -> None:
    app.command("live")(live)


@report_errors
def live(
    plant: Annotated[str, typer.Argument(help="Plant YAML file, or a shipped sample name.")],
    endpoint: Annotated[str, typer.Option(help="OPC UA endpoint, e.g. opc.tcp://127.0.0.1:4840.")],
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    security: SecurityOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    trust: TrustOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Save the snapshot here (JSON; read back by --live FILE).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the snapshot as one JSON object.")] = False,
) -> None:
    """Print (and with --out save) the live state: per station its state, current job, units done
    and queue; operations completed, in progress and queued; material stock."""
    model, _, _ = open_plant(plant, warn=not json_out)
    sec, credentials = client_security(user, password_file, security, cert, key, trust)
    state = asyncio.run(read_live(model, endpoint, security=sec, credentials=credentials))
    snapshot = live_to_json(
        state, model.epoch, plant=model.name, plant_hash=model.content_hash(), captured_at=datetime.now(UTC)
    )
    snapshot["endpoint"] = endpoint
    if out is not None:
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(json.dumps(snapshot, indent=1) + "\n")
        tmp.replace(out)
    if json_out:
        emit_json(snapshot)
    else:
        _show(snapshot)


def _show(snap: dict[str, Any]) -> None:
    out_console.print(f"{snap['plant']} at {snap['time_iso']}" + ("  (STALE)" if snap["stale"] else ""))
    table = Table("station", "state", "since", "job", "units done", "queue", "good", "reject")
    for sid, st in snap["stations"].items():
        table.add_row(
            sid,
            st["state"],
            st["since"][11:19],
            ", ".join(st["jobs"]) or "-",
            str(st["units_done"]),
            ", ".join(st["queue"]) or "-",
            str(st["good_count"]),
            str(st["reject_count"]),
        )
    out_console.print(table)
    done_orders = sorted({o for o, _ in snap["completed"]})
    out_console.print(
        f"operations completed {len(snap['completed'])} (orders touched: {len(done_orders)}), "
        f"in progress {len(snap['in_progress'])}, queued {len(snap['queued'])}"
    )
    if snap["stock"]:
        out_console.print("stock: " + ", ".join(f"{m} {q:g}" for m, q in snap["stock"].items()))
    if snap["down"]:
        out_console.print("down: " + ", ".join(snap["down"]))
