"""Assemble `Evidence` from the rows the history returns (pure: frames and a map in, data out)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import pandas as pd

from twin.calibration.fit import Evidence


def build_evidence(
    *,
    start: float,
    end: float,
    cycles: pd.DataFrame,
    units: pd.DataFrame,
    states: pd.DataFrame,
    starts: pd.DataFrame,
    products: Mapping[str, str],
    runs: tuple[str, ...] = (),
) -> tuple[Evidence, int]:
    """The evidence, and how many cycle rows named an order whose product is unknown (left out)."""
    cyc: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    unknown = 0
    for station, order, op, value in cycles[["station", "order_id", "operation", "cycle"]].itertuples(
        index=False
    ):
        product = products.get(order)
        if product is None:
            unknown += 1
            continue
        cyc[(product, op, station)].append(float(value))
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    cols = ["order_id", "operation", "station", "good", "rejected"]
    for order, op, station, good, bad in units[cols].itertuples(index=False):
        product = products.get(order)
        if product is not None:
            counts[(product, op, station)][0] += int(good)
            counts[(product, op, station)][1] += int(bad)
    st: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for station, t, state in states[["station", "time", "state"]].itertuples(index=False):
        st[station].append((float(t), str(state)))
    os_: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for station, t, order in starts[["station", "time", "order_id"]].itertuples(index=False):
        if order in products:
            os_[station].append((float(t), products[order]))
    ev = Evidence(
        start=start,
        end=end,
        cycles=dict(cyc),
        states=dict(st),
        units={k: (v[0], v[1]) for k, v in counts.items()},
        order_starts=dict(os_),
        runs=runs,
    )
    return ev, unknown
