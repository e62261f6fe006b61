"""Typed rows of the history's read API: what a run is, as callers outside the history see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    """One run: its row in `runs`, with params and KPIs decoded from their JSON."""

    id: str
    kind: str
    created_at: datetime
    started_by: str
    status: str
    plant_name: str | None = None
    plant_hash: str | None = None
    orders_hash: str | None = None
    parent: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    kpis: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short human name: the params' name or scenario, else who started it."""
        return str(self.params.get("name") or self.params.get("scenario") or self.started_by)

    def numbers(self) -> dict[str, float]:
        """The numeric KPIs, nested dicts flattened with dots ('baseline.oee'); booleans left out."""
        out: dict[str, float] = {}
        _flat_numbers("", self.kpis, out)
        return out


def _flat_numbers(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat_numbers(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[prefix] = float(value)
