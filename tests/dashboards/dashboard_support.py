"""Helpers for the dashboard tests: the history they read, a threaded server, chromium settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from synthetic_history import SyntheticRuns, greedy_schedule, simulated_frames, verdict_of
from werkzeug.serving import make_server

from twin.history import HistoryStore
from twin.history.verdicts import record_verdict
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import AcceptancePolicy

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass(frozen=True)
class History:
    """A history file written through HistoryStore with a refused and an accepted plan."""

    store: HistoryStore
    runs: SyntheticRuns
    accepted_plan: str
    plant: Plant
    orders: list[Order]


def add_accepted_plan(store: HistoryStore, plant: Plant, orders: list[Order]) -> str:
    """A second plan whose verdict (under a lenient policy) accepts it. Its schedule starts a
    minute later than the greedy one of `fill_history`: verdicts are found by the schedule's
    content, so the same content would share the newest verdict."""
    greedy = greedy_schedule(plant, orders, created_by="synthetic lenient")
    schedule = Schedule(
        tuple(replace(op, start=op.start + 60.0, end=op.end + 60.0) for op in greedy.operations),
        plant_hash=greedy.plant_hash,
        created_by=greedy.created_by,
    )
    plan = store.record_run(
        "plan", started_by="lenient planner", plant=plant, orders=orders, params={"name": "lenient"}
    )
    store.add_schedule(plan, schedule)
    _, sim_orders, _ = simulated_frames(orders, schedule, 10, seed=5)
    verdict = verdict_of(
        schedule, sim_orders, seed=5, policy=AcceptancePolicy(min_on_time=0.0), plant=plant, orders=orders
    )
    record_verdict(store, verdict, plant=plant, orders=orders, started_by="synthetic", parent=plan)
    return plan


class Served:
    """A WSGI app served in a thread on a free 127.0.0.1 port."""

    def __init__(self, wsgi: object) -> None:
        self.server = make_server("127.0.0.1", 0, wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="dash-test-server", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()
