"""Fixtures for the history store: a tiny plant with known shifts and a fresh store per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from history_data import TINY

from twin.history import HistoryStore
from twin.loader import plant_from_text
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation


@pytest.fixture(scope="session")
def tiny_plant() -> Plant:
    plant, _ = plant_from_text(TINY, "tiny.yaml")
    return plant


@pytest.fixture
def tiny_orders() -> list[Order]:
    return [
        Order("O1", "P", 2, release=0.0, due=5000.0),
        Order("O2", "Q", 3, release=0.0, due=80000.0),
    ]


@pytest.fixture
def tiny_schedule(tiny_plant: Plant) -> Schedule:
    ops = (
        ScheduledOperation("O1", 0, "cut", "A", 0, 0.0, 200.0, 20.0, 2),
        ScheduledOperation("O1", 1, "assemble", "B", 0, 300.0, 600.0, 0.0, 2),
        ScheduledOperation("O2", 0, "cut", "A", 1, 100.0, 3700.0, 0.0, 3),
        ScheduledOperation("O2", 1, "pack", "B", 0, 3800.0, 4000.0, 0.0, 3),
    )
    return Schedule(
        operations=ops, plant_hash=tiny_plant.content_hash(), created_by="test", meta={"solver": "hand"}
    )


@pytest.fixture
def store(tmp_path: Path):
    with HistoryStore(tmp_path / "history.duckdb") as s:
        yield s
