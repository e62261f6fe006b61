"""The demo's settings (embedded defaults) and the parsing of its `--speed` / `--duration` values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from plantwin.service import parse_seconds
from twin.drift import Drift
from twin.errors import InputError, Issue
from twin.verdict import AcceptancePolicy

HIGH_SPEED = 600.0
"""`--speed high`: 600 plant seconds per wall second (a 10-hour day in a minute)."""

__all__ = ["HIGH_SPEED", "DemoConfig", "RushSpec", "parse_seconds", "parse_speed"]


def parse_speed(text: str) -> float:
    """'high' or a positive number of plant seconds per wall second.

    Raises:
        InputError: anything else.
    """
    if text.strip().lower() == "high":
        return HIGH_SPEED
    try:
        value = float(text)
    except ValueError:
        raise InputError(Issue(f"got {text!r}, expected a number or 'high'", "--speed")) from None
    if not 0 < value <= 1e6:
        raise InputError(Issue(f"got {text!r}, expected a number above 0 to 1000000", "--speed"))
    return value


@dataclass(frozen=True)
class RushSpec:
    """The scripted rush order: `after` wall seconds after the first dispatch, due `due_in` plant
    seconds after it arrives."""

    product: str = "PUMP-S"
    quantity: int = 20
    due_in: float = 36 * 3600.0
    after: float = 12.0
    order_id: str = "RUSH-1"


@dataclass(frozen=True)
class DemoConfig:
    """Everything `plantwin demo` runs with; every field has an embedded default."""

    plant: str = "demo"
    db: Path | None = None
    speed: float = 60.0
    duration: float | None = None
    fresh: bool = False
    host: str = "127.0.0.1"
    port: int = 8050
    start_time: float = 6 * 3600.0 - 600.0
    """Plant time a fresh virtual plant starts at (Monday 05:50: ten minutes before the first shift)."""
    seed: int = 1
    replications: int = 8
    policy: AcceptancePolicy = field(default_factory=lambda: AcceptancePolicy(min_on_time=0.75))
    time_limit: float = 10.0
    work_limit: float | None = 20.0
    """CP-SAT deterministic work limit: the same plan for the same input, whatever the machine load."""
    max_iterations: int = 3
    release_horizon: float = 4 * 3600.0
    """Orders are released to the floor when their first planned operation starts within this
    many plant seconds (and this is the re-planner's frozen horizon)."""
    status_every: float = 5.0
    rush: RushSpec | None = field(default_factory=RushSpec)
    drifts: tuple[Drift, ...] = ()
    min_coverage: float | None = 0.6
    """Alert when the prediction covers less of the actual output than this (see docs/fidelity.md)."""
    """Processing times of the virtual floor that drift (`--drift`); none: the floor is the model."""
    open_browser: bool = True
