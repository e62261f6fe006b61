"""Fixtures for the dashboard tests: a history file with real data (written through HistoryStore),
and headless Debian chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from dashboard_support import History, add_accepted_plan
from support import CHROMIUM, CHROMIUM_ARGS
from synthetic_history import fill_history

from twin.history import HistoryStore
from twin.orders import Order
from twin.plant import Plant


@pytest.fixture(scope="module")
def history(
    tmp_path_factory: pytest.TempPathFactory, demo_plant: Plant, demo_orders: list[Order]
) -> Iterator[History]:
    path = tmp_path_factory.mktemp("history") / "history.duckdb"
    store = HistoryStore(path)
    # every eighth order due an hour after release: it cannot be on time, so the plan is refused
    orders = [replace(o, due=o.release + 3600.0) if i % 8 == 0 else o for i, o in enumerate(demo_orders)]
    runs = fill_history(store, demo_plant, orders, seed=3)
    accepted = add_accepted_plan(store, demo_plant, orders)
    yield History(store, runs, accepted, demo_plant, orders)
    store.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is absent: install Debian's chromium (make browser) to run the browser tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
