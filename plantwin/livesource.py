"""Where a command's live state comes from: a snapshot file (`plantwin live --out`) or an OPC UA
endpoint read once, both through the sync layer's `LiveView` (what the floor publishes, nothing
else). A snapshot of another plant, or older than `--live-max-age`, is refused (exit 2)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from twin.errors import InputError, Issue
from twin.live import LiveState
from twin.live_json import check_snapshot, snapshot_from_json
from twin.plant import Plant
from twin.timeutil import parse_duration

if TYPE_CHECKING:
    from sync.security import Credentials, Security

LiveOption = Annotated[
    str | None,
    typer.Option(
        "--live",
        help="Warm-start from the live state: a snapshot file (plantwin live --out) or an endpoint opc.tcp://...",
    ),
]
LiveMaxAgeOption = Annotated[
    str, typer.Option("--live-max-age", help="Refuse a --live snapshot older than this (e.g. '15m', '2h').")
]
DEFAULT_MAX_AGE = "15m"


async def read_live(
    plant: Plant,
    endpoint: str,
    *,
    security: Security | None = None,
    credentials: Credentials | None = None,
) -> LiveState:
    """Connect, read every tag, the job responses and the stock levels once, and disconnect.

    Raises:
        SyncError: the server is unreachable or refuses the session, or a tag cannot be resolved.
    """
    # imported here: the OPC UA stack takes about a second to load, and every command that takes
    # --live imports this module (most never read an endpoint)
    from sync.client import SyncClient
    from sync.livestate import LiveView

    view = LiveView(plant)
    client = SyncClient(plant, endpoint, security=security, credentials=credentials, watchers=view.watchers)
    await client.connect()
    try:
        return view.build(client.live)
    finally:
        await client.disconnect()


def open_live(plant: Plant, source: str, max_age: str = DEFAULT_MAX_AGE) -> LiveState:
    """The live state of `--live SOURCE` (a file or an opc.tcp:// endpoint).

    Raises:
        InputError: unreadable, malformed, of another plant, or too old.
        SyncError: the endpoint cannot be read.
    """
    try:
        limit = parse_duration(max_age)
    except ValueError as exc:
        raise InputError(Issue(str(exc), "--live-max-age")) from None
    if source.startswith("opc.tcp://"):
        return asyncio.run(read_live(plant, source))
    path = Path(source)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(
            Issue(f"cannot read the live snapshot: {exc.strerror}", source, path="--live")
        ) from None
    snap = snapshot_from_json(text, plant.epoch, source)
    return check_snapshot(snap, plant.content_hash(), now=datetime.now(UTC), max_age=limit, source=source)
