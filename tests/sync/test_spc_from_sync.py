"""SPC from a real sync: the process values sync records from the virtual plant are what the quality
page charts and checks, with no renaming by hand (the page asks by the plant's name, sync stores
under `twin.tagnames.process_value_tag`, one owner of the naming)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from dashboards.app import create_app
from dashboards.history_services import HistoryServices
from sync.client import SyncClient
from sync.joborders import Job
from sync.virtual.server import VirtualPlant
from twin.history.store import HistoryStore
from twin.plant import Plant

pytestmark = pytest.mark.timeout(120)
UNITS = 40


def _callback(app: Any, output: str) -> Any:
    key = next(k for k in app.callback_map if output in k)
    return app.callback_map[key]["callback"].__wrapped__


async def test_the_quality_page_charts_process_values_recorded_by_sync(
    cell: Plant, shelf: Path, tmp_path: Path
) -> None:
    store = HistoryStore(tmp_path / "h.duckdb")
    try:
        async with (
            VirtualPlant(cell, port=0, speed=3000, shelf=shelf) as vp,
            SyncClient(cell, vp.endpoint, sink=store, batch_age=0.2) as client,
        ):
            assert vp.floor is not None
            vp.floor.submit(Job("J", "J", "P", 0, "mill", "mill", 0, UNITS))
            end = time.monotonic() + 60
            while client.tracker.produced("mill") + client.tracker.scrapped("mill") < UNITS:
                assert time.monotonic() < end, "the mill did not make its units"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # the last samples arrive
        stored = store.sql(
            "SELECT count(*) AS n FROM actual_values WHERE station = 'mill' AND tag = 'pv:temp'"
        )
        n = int(stored.n.iloc[0])
        assert n >= UNITS // 2  # one sample per unit made (subscriptions may merge some)
        app = create_app(HistoryServices(store, cell))
        _options, chosen = _callback(app, "quality-tag.options")("quality-tag")
        assert chosen == "mill|temp"
        figure, verdict = _callback(app, "quality-graph.figure")("mill|temp", "imr", 5, ["we"], 250)
    finally:
        store.close()
    points = max(len(trace.y) for trace in figure.data if trace.y is not None)
    assert points == n  # every synced value is on the chart
    assert "Not enough values" not in str(figure.layout) and "Nothing to check" not in str(verdict)
