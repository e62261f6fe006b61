"""Calibration speed: `plantwin calibrate` over a week of the demo plant's floor history.

    .venv/bin/python benchmarks/calibration_speed.py             # 7 plant days
    .venv/bin/python benchmarks/calibration_speed.py --days 2    # a smoke run

The history is made the way a synced floor makes it: the virtual plant's floor (the simulator
on the demo plant, all 11 stations, its shipped order book repeated every week) with its tag
writes going through the sync tracker into a DuckDB file (`sync.virtual.offline`). Then the
calibration is timed in its parts: the reads in DuckDB (cycles attributed to orders with ASOF
joins, unit counts, state changes), the fits (maximum likelihood per distribution kind, AIC),
and writing the calibrated file. Target (issue 17): seconds, not minutes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from plantwin.calibrating import calibrate as run_calibration
from plantwin.calibrating import calibrated_text
from sync.virtual.offline import record_floor
from twin.calibration.evidence import build_evidence
from twin.calibration.fit import fit_plant
from twin.history import HistoryStore
from twin.history import calibration as reads
from twin.loader import load_orders, load_plant, shipped_orders_path
from twin.samples import sample_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args()
    path = sample_path("demo")
    assert path is not None
    plant, _ = load_plant(path)
    book_path = shipped_orders_path(path, plant)
    assert book_path is not None
    book = load_orders(book_path, plant)
    week = 7 * 86400.0
    orders = [
        replace(o, id=f"{o.id}-w{w}", release=o.release + w * week, due=o.due + w * week)
        for w in range((args.days + 6) // 7)
        for o in book
    ]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.duckdb"
        t0 = time.perf_counter()
        with HistoryStore(db) as store:
            store.record_run("sync", started_by="benchmark", plant=plant, orders=orders)
            made = record_floor(plant, orders, args.days * 86400.0, store, seed=3)
        t_rec = time.perf_counter() - t0
        rows = []
        with HistoryStore(db, read_only=True) as store:
            t = time.perf_counter()
            frames = {
                "cycles": reads.clean_cycles(store, None, None),
                "units": reads.unit_counts(store, None, None),
                "states": reads.state_changes(store, None, None),
                "starts": reads.order_starts(store, None, None),
            }
            t_read = time.perf_counter() - t
            products = reads.order_products(store)
            t = time.perf_counter()
            ev, _ = build_evidence(start=0.0, end=args.days * 86400.0, products=products, **frames)
            fits = fit_plant(plant, ev)
            t_fit = time.perf_counter() - t
            t = time.perf_counter()
            cal = run_calibration(store, plant, path)
            text = calibrated_text(path.read_text(), plant, path, cal, Path(tmp) / "out" / "plant.yaml")
            t_all = time.perf_counter() - t
        rows = [
            ("plant days of history", f"{args.days}"),
            ("tag values / events recorded", f"{made.values:,} / {made.events:,}"),
            ("recording the history (offline floor + tracker)", f"{t_rec:.1f} s"),
            ("reads in DuckDB (cycles, units, states, starts)", f"{t_read:.2f} s"),
            ("clean cycles / parameters fitted", f"{len(frames['cycles']):,} / {len(fits)}"),
            ("fits (MLE per kind, AIC; MTBF/MTTR, yields, setups)", f"{t_fit:.2f} s"),
            ("calibrate end to end (reads + fits + file)", f"{t_all:.2f} s"),
            ("values changed (floor = model: chance only)", f"{len(cal.changed)}"),
            ("calibrated file length", f"{len(text):,} chars"),
        ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
