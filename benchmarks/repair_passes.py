"""The repair loop on the tightened demo book: failing orders pass by pass, and the best so far.

The demo plant's shipped order book with every due date moved to 80 % of its order's window
(release + 0.8 x (due - release)), planned by `planner.plan_until_accepted`. Prints per pass:
the plan's objective, failing orders, the best pass so far, how many orders had their lots
split into transfer batches, the changes made before the pass, and the pass's note (why a
pass did not help); then the loop's reason. CP-SAT runs on a deterministic work limit, so
the passes are the same on any machine load (wall seconds are printed with the load average).

    .venv/bin/python benchmarks/repair_passes.py [--passes 5] [--replications 30] [--work-limit 20]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

from planner.loop import plan_until_accepted
from twin.loader import load_orders, load_plant, shipped_orders_path
from twin.samples import sample_path


def tightened(share: float = 0.8):
    """The demo plant and its book with due dates at `share` of each order's window."""
    path = sample_path("demo")
    plant, _ = load_plant(path)
    book = shipped_orders_path(path, plant)
    assert book is not None
    orders = load_orders(book, plant)
    return plant, [replace(o, due=o.release + share * (o.due - o.release)) for o in orders]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--replications", type=int, default=30)
    ap.add_argument("--work-limit", type=float, default=20.0, help="CP-SAT deterministic seconds per plan")
    ap.add_argument("--time-limit", type=float, default=60.0, help="wall cap per plan, seconds")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    plant, orders = tightened()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    result = plan_until_accepted(
        plant, orders, replications=a.replications, seed=a.seed, max_iterations=a.passes,
        time_limit=a.time_limit, work_limit=a.work_limit,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    print(f"{'pass':>4} {'objective':>9} {'failing':>7} {'best':>4} {'split':>5} {'changes':>7}  note")
    for r in result.iterations:
        split = len({o.order_id for o in r.plan.schedule.operations if o.transfer_batch is not None})
        print(
            f"{r.iteration:>4} {r.objective:>9} {len(r.failing):>7} {r.best:>4} {split:>5} "
            f"{len(r.changes):>7}  {r.note}"
        )
    for r in result.iterations:
        print(f"pass {r.iteration} failing: {', '.join(r.failing) or '-'}")
    print(("accepted: " if result.accepted else "not accepted: ") + result.reason)
    print(f"wall {wall:.1f} s; load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
