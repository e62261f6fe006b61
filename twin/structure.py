"""Do two plant files describe the same floor layout? (Same stations, machines, products and
operations: what a virtual plant running one file behind the tags of the other needs.)"""

from __future__ import annotations

from twin.plant import Plant


def structure_differences(plant: Plant, other: Plant) -> list[str]:
    """What `other` has different from `plant` in stations, machines, products or routings
    (empty when only parameters such as times, yields, failures or setups differ)."""
    out: list[str] = []
    a, b = plant.station_map, other.station_map
    for sid in sorted(set(a) - set(b)):
        out.append(f"station {sid} is missing")
    for sid in sorted(set(b) - set(a)):
        out.append(f"station {sid} is not in the plant")
    for sid in sorted(set(a) & set(b)):
        if a[sid].machines != b[sid].machines:
            out.append(f"station {sid} has {b[sid].machines} machines, the plant {a[sid].machines}")
    pa, pb = plant.product_map, other.product_map
    for pid in sorted(set(pa) - set(pb)):
        out.append(f"product {pid} is missing")
    for pid in sorted(set(pb) - set(pa)):
        out.append(f"product {pid} is not in the plant")
    for pid in sorted(set(pa) & set(pb)):
        ra = [(op.id, tuple(op.stations)) for op in pa[pid].routing]
        rb = [(op.id, tuple(op.stations)) for op in pb[pid].routing]
        if ra != rb:
            out.append(f"product {pid} has routing {_routing(rb)}, the plant {_routing(ra)}")
    return out


def _routing(ops: list[tuple[str, tuple[str, ...]]]) -> str:
    return ", ".join(f"{op}@{'/'.join(stations)}" for op, stations in ops)
