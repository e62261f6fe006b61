"""Calibration wiring: read the floor's evidence from the history, fit the plant, write the file.

The statistics are in `twin.calibration` (pure), the reads in `twin.history.calibration`; this
module joins them with the file system for `plantwin calibrate`, tests and the benchmark.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from twin.calibration.evidence import build_evidence
from twin.calibration.fit import MinSamples, ParameterFit, fit_plant
from twin.calibration.rewrite import rewrite_values
from twin.errors import InputError, Issue
from twin.history import calibration as reads
from twin.history.store import HistoryStore
from twin.loader import load_orders, plant_from_text, shipped_orders_path
from twin.plant import Plant


@dataclass(frozen=True)
class Calibration:
    """The outcome of one calibration: the window, the evidence's runs, every parameter's fit."""

    plant: str
    start: float
    end: float
    start_iso: str
    end_iso: str
    runs: tuple[str, ...]
    fits: tuple[ParameterFit, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> list[ParameterFit]:
        return [f for f in self.fits if f.changed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plant": self.plant,
            "window": {
                "start": self.start,
                "end": self.end,
                "start_iso": self.start_iso,
                "end_iso": self.end_iso,
            },
            "runs": list(self.runs),
            "changed": len(self.changed),
            "notes": list(self.notes),
            "parameters": [f.to_dict() for f in self.fits],
        }


def calibrate(
    store: HistoryStore,
    plant: Plant,
    plant_path: Path | None,
    start: float | None = None,
    end: float | None = None,
    minimum: MinSamples | None = None,
) -> Calibration:
    """Fit `plant` from the actuals in [start, end) of `store`.

    Raises:
        InputError: the history holds no actuals in the window.
    """
    t0, t1, n = reads.floor_window(store, start, end)
    if n == 0:
        raise InputError(Issue("no actuals from the floor in this window (sync a plant first)", store.path))
    lo = t0 if start is None else start
    hi = t1 if end is None else end
    products = reads.order_products(store)
    shipped = shipped_orders_path(plant_path, plant) if plant_path is not None else None
    if shipped is not None and shipped.is_file():
        products.update({o.id: o.product for o in load_orders(shipped, plant)})
    ev, unknown = build_evidence(
        start=lo,
        end=min(hi, t1 + 1e-9),
        cycles=reads.clean_cycles(store, lo, hi),
        units=reads.unit_counts(store, lo, hi),
        states=reads.state_changes(store, lo, hi),
        starts=reads.order_starts(store, lo, hi),
        products=products,
        runs=tuple(reads.floor_runs(store)),
    )
    notes = []
    if unknown:
        notes.append(f"{unknown} cycle(s) of orders whose product no order book names were left out")
    fits = fit_plant(plant, ev, minimum)
    iso = lambda t: (plant.epoch + timedelta(seconds=t)).isoformat()  # noqa: E731
    return Calibration(plant.name, lo, ev.end, iso(lo), iso(ev.end), ev.runs, tuple(fits), tuple(notes))


def calibrated_text(plant_text: str, plant: Plant, plant_path: Path, cal: Calibration, out: Path) -> str:
    """The plant file with only the changed values replaced, valid at `out` (a relative order
    book reference is rewritten to be found from there).

    Raises:
        InputError: the result would not load (names `out`).
    """
    changes: dict[tuple[str | int, ...], Any] = {f.yaml_path: f.new_value for f in cal.changed}
    if plant.orders is not None and not Path(plant.orders).is_absolute():
        target = (plant_path.parent / plant.orders).resolve()
        rel = os.path.relpath(target, out.resolve().parent)
        if Path(rel).as_posix() != Path(plant.orders).as_posix():
            changes[("orders",)] = Path(rel).as_posix()
    text = rewrite_values(plant_text, changes)
    new_plant, _ = plant_from_text(text, str(out))
    shipped = shipped_orders_path(out, new_plant)
    if shipped is not None and not shipped.is_file():
        raise InputError(Issue(f"the order book {new_plant.orders} would not be found from {out}", str(out)))
    return text


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file: a reader never sees half a plant."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
