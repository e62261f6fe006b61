"""Fixtures for the simulator tests: small plants written inline, a serial executor."""

from __future__ import annotations

import textwrap

import pytest

from sim import SerialExecutor
from twin.loader import plant_from_text
from twin.plant import Plant


def plant_from_yaml(body: str, **settings: object) -> Plant:
    """A plant from YAML text (the `name` and `epoch` header added)."""
    head = "name: t\nepoch: 2026-11-30T00:00:00+00:00\n"
    if settings:
        head += "settings: {" + ", ".join(f"{k}: {str(v).lower()}" for k, v in settings.items()) + "}\n"
    plant, _ = plant_from_text(head + textwrap.dedent(body), "test.yaml")
    return plant


@pytest.fixture
def serial() -> SerialExecutor:
    return SerialExecutor()


@pytest.fixture(scope="session")
def make_plant():
    """Factory: make_plant(yaml_body, **settings) -> Plant (name and epoch added)."""
    return plant_from_yaml
