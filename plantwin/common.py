"""Helpers every command shares: resolving plants, printing JSON, mapping errors to exits.

Exit codes (a stable contract): 0 success, 2 a user error, 1 an internal failure.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from twin.errors import InputError, Issue, PlantwinError
from twin.kpi import KPIS, KpiRegistry
from twin.loader import load_orders, load_plant, shipped_orders_path
from twin.orders import Order
from twin.plant import Plant
from twin.samples import list_samples, sample_path

err_console = Console(stderr=True)
out_console = Console()

P = ParamSpec("P")
R = TypeVar("R")


def quiet_asyncua() -> None:
    """Keep asyncua's own log records (a warning per reconnect attempt, tracebacks of every failed
    publish) off stderr: the sync client says what matters in one line per state change. Set
    PLANTWIN_DEBUG=1 to see them all, tracebacks included."""
    lib = logging.getLogger("asyncua")
    if os.environ.get("PLANTWIN_DEBUG"):
        lib.setLevel(logging.DEBUG)
        logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        return
    lib.setLevel(logging.CRITICAL + 1)
    ours = logging.getLogger("sync")
    if not any(getattr(h, "_plantwin", False) for h in ours.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("plantwin: %(message)s"))
        handler._plantwin = True  # type: ignore[attr-defined]
        ours.addHandler(handler)
        ours.propagate = False


@dataclass(frozen=True)
class Wiring:
    """What the composition root hands every command, as click's context object: the KPI
    registry (a test runs the app with `obj=Wiring(kpis=...)`; the console script with none)."""

    kpis: KpiRegistry = KPIS


def wiring(ctx: typer.Context | None) -> Wiring:
    """The `Wiring` a command was run with (its `ctx: typer.Context` parameter); the default one
    when none was given (the console script) or outside a command (`ctx` None)."""
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, Wiring) else Wiring()


class UserExit(Exception):
    """Raised to end a command with a message and a code (already reported)."""

    def __init__(self, code: int) -> None:
        self.code = code


def resolve_plant_path(plant: str) -> Path:
    """A plant argument: a path to a YAML file, or the name of a shipped sample.

    Raises:
        InputError: neither a file nor a sample name.
    """
    p = Path(plant)
    if p.is_file():
        return p
    if p.is_dir() and (p / "plant.yaml").is_file():
        return p / "plant.yaml"
    sample = sample_path(plant)
    if sample is not None:
        return sample
    names = ", ".join(list_samples())
    raise InputError(Issue(f"no such plant file or sample (samples: {names})", plant))


def open_plant(plant: str, *, warn: bool = True) -> tuple[Plant, Path, list[Issue]]:
    """Load a plant by path or sample name; warnings go to stderr when `warn`."""
    path = resolve_plant_path(plant)
    model, warnings = load_plant(path)
    if warn:
        for w in warnings:
            err_console.print(
                f"[yellow]plantwin: warning: {escape(str(w))}[/]", highlight=False, soft_wrap=True
            )
    return model, path, warnings


def open_orders(plant: Plant, plant_path: Path, orders: str | None) -> list[Order] | None:
    """Orders from `--orders`, else the plant's shipped order book, else None."""
    if orders is not None:
        return load_orders(orders, plant)
    shipped = shipped_orders_path(plant_path, plant)
    return load_orders(shipped, plant) if shipped is not None else None


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, tuples lists, objects with to_dict their dicts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    if hasattr(value, "to_dict"):
        return _clean(value.to_dict())
    return value


def emit_json(payload: dict[str, Any]) -> None:
    """Print one JSON object on stdout, and nothing else there."""
    sys.stdout.write(json.dumps(_clean(payload), indent=1, default=str) + "\n")
    sys.stdout.flush()


def report_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn plantwin's errors into 'plantwin: error: ...' lines and exit codes (2 user, 1 ours)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            for issue in exc.issues:
                sev = "warning" if issue.severity == "warning" else "error"
                err_console.print(f"plantwin: {sev}: {issue}", highlight=False, markup=False, soft_wrap=True)
            raise SystemExit(2) from None
        except PlantwinError as exc:
            err_console.print(f"plantwin: error: {exc}", highlight=False, markup=False, soft_wrap=True)
            raise SystemExit(2) from None
        except UserExit as exc:
            raise SystemExit(exc.code) from None

    return wrapper
