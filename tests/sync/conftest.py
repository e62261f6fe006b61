"""Fixtures for the sync tests: a two-station cell with failures, scrap and a process value."""

from __future__ import annotations

import pytest
from support import free_port

from twin.loader import plant_from_text
from twin.plant import Plant

CELL = """
name: cell
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:test"}
lines:
  - id: L
    stations:
      - id: mill
        failures: {mtbf: {exponential: 40m}, mttr: {exponential: 4m}}
        setups: {default: 5m, initial: 2m}
        process_values:
          - {name: temp, unit: degC, target: 40.0, sd: 0.5, drift_per_hour: 0.1}
      - id: inspect
        buffer: 4
products:
  - id: P
    family: A
    routing:
      - {id: mill, stations: mill, time: {exponential: 30}, yield: 0.9}
      - {id: inspect, stations: inspect, time: 20, yield: 0.95}
"""


@pytest.fixture(scope="session")
def cell() -> Plant:
    plant, _ = plant_from_text(CELL, "cell.yaml")
    return plant


@pytest.fixture
def port() -> int:
    """A TCP port free right now on 127.0.0.1 (for a server that must come back on the same port)."""
    return free_port()
