"""What a second `plantwin demo` continues from, and what `--fresh` clears.

Continue (the default): the history file is kept and appended to; the virtual plant's retentive
state (its clock and its good/reject counters, `<db>.demo/plant-state.json`) is restored, so the
plant time and the counters go on where they stopped; the orders that earlier demo runs saw
finished on the floor (every job order Ended) are not planned again, and the rush orders they
accepted but did not finish are planned with the rest. Work in progress at shutdown is not
retentive (the virtual plant restarts with empty machines and buffers, like a floor after a
power cycle): its orders are planned again from their first operation.

Fresh: the history file (and its write-ahead log) is moved aside to `FILE.<stamp>.bak`, the
plant state is removed, and the virtual plant starts on Monday 05:50 with zero counters.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from twin.history import HistoryStore
from twin.orders import Order


def state_dir(db_file: Path) -> Path:
    """Where the demo keeps the virtual plant's retentive state and its address-space cache."""
    return Path(str(db_file) + ".demo")


def start_fresh(db_file: Path) -> list[Path]:
    """Move an existing history aside and forget the plant state; the paths moved aside."""
    moved = []
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for p in (db_file, Path(str(db_file) + ".wal")):
        if p.exists():
            target = p.with_name(f"{p.name}.{stamp}.bak")
            p.rename(target)
            moved.append(target)
    d = state_dir(db_file)
    if (d / "plant-state.json").exists():
        (d / "plant-state.json").unlink()
    snap = Path(str(db_file) + ".snapshot")
    if snap.is_dir():
        shutil.rmtree(snap)
    return moved


def write_start_state(path: Path, time: float) -> None:
    """A retentive state file that makes a new virtual plant start at plant `time`, counters 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"time": time, "counts": {}}))


def order_to_dict(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "product": o.product,
        "quantity": o.quantity,
        "release": o.release,
        "due": o.due if math.isfinite(o.due) else None,
        "weight": o.weight,
    }


def order_from_dict(d: dict[str, Any]) -> Order:
    due = d.get("due")
    return Order(
        str(d["id"]),
        str(d["product"]),
        int(d["quantity"]),
        float(d.get("release", 0.0)),
        float(due) if due is not None else math.inf,
        float(d.get("weight", 1.0)),
    )


@dataclass(frozen=True)
class Carried:
    """What earlier demo runs on this history leave to this one."""

    runs: int
    completed: frozenset[str]
    rush: tuple[Order, ...]
    last_plan: str | None


def carried_over(store: HistoryStore) -> Carried:
    """Orders finished and rush orders accepted by earlier demo runs, and the last dispatched plan."""
    runs = store.runs(kind="demo", limit=1000)
    completed: set[str] = set()
    rush: dict[str, Order] = {}
    for run in runs:
        end = run.kpis
        completed.update(end.get("completed_orders") or ())
        for d in end.get("rush_accepted") or ():
            rush[str(d["id"])] = order_from_dict(d)
    dispatched = store.runs(kind="dispatch", status="ok", limit=1)
    last_plan = dispatched[0].parent if dispatched else None
    return Carried(
        len(runs), frozenset(completed), tuple(o for k, o in rush.items() if k not in completed), last_plan
    )
