"""Shared fixtures: the shipped sample plants, loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantwin.opcua_cache import standard_shelf
from twin.loader import load_orders, load_plant, shipped_orders_path
from twin.orders import Order
from twin.plant import Plant
from twin.samples import sample_path


def _sample(name: str) -> tuple[Plant, Path]:
    path = sample_path(name)
    assert path is not None, name
    plant, _ = load_plant(path)
    return plant, path


@pytest.fixture(scope="session")
def demo_plant() -> Plant:
    return _sample("demo")[0]


@pytest.fixture(scope="session")
def demo_orders(demo_plant: Plant) -> list[Order]:
    path = shipped_orders_path(_sample("demo")[1], demo_plant)
    assert path is not None
    return load_orders(path, demo_plant)


@pytest.fixture(scope="session")
def sample_plant():
    """Factory: sample_plant('tandem3') -> Plant."""
    return lambda name: _sample(name)[0]


@pytest.fixture(scope="session")
def jobshop3x3() -> tuple[Plant, list[Order]]:
    plant, path = _sample("jobshop3x3")
    orders_path = shipped_orders_path(path, plant)
    assert orders_path is not None
    return plant, load_orders(orders_path, plant)


@pytest.fixture(scope="session")
def opcua_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's folder for plantwin.opcua_cache (never the user's ~/.cache)."""
    return tmp_path_factory.getbasetemp() / "plantwin-cache"


@pytest.fixture(scope="session")
def shelf(opcua_cache: Path) -> Path:
    """asyncua's standard address space, cached (plantwin.opcua_cache): virtual plants given it
    start in a fraction of a second; the same file the session's demo and virtual-plant processes use."""
    path = standard_shelf(opcua_cache)
    assert path is not None, opcua_cache
    return path


@pytest.fixture(autouse=True)
def _private_history(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, opcua_cache: Path
) -> None:
    """Commands record into the history by default: point them at a private file per test, never
    at the user's ~/.local/share/plantwin (subprocesses inherit the variable). The OPC UA address
    space cache (plantwin.opcua_cache) is one for the whole session, never the user's ~/.cache:
    the first virtual plant builds it, every later one loads it."""
    monkeypatch.setenv("PLANTWIN_DB", str(tmp_path_factory.mktemp("history") / "history.duckdb"))
    monkeypatch.setenv("PLANTWIN_CACHE", str(opcua_cache))
