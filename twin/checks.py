"""Cross-reference and sanity checks of a validated plant (networkx for the routing graphs).

Errors make the plant unusable; warnings are reported and loading goes on.
Each issue carries the field path, so the loader can name the line.
"""

from __future__ import annotations

import networkx as nx

from twin.plant import Plant
from twin.yamlsource import Path

Finding = tuple[Path, str, str]  # (path, message, severity)
CALENDAR_PROBE = 28 * 86400.0


def check_plant(plant: Plant) -> list[Finding]:
    """Everything wrong or suspicious about `plant`, as (path, message, severity)."""
    out: list[Finding] = []
    err = lambda path, msg: out.append((path, msg, "error"))  # noqa: E731
    warn = lambda path, msg: out.append((path, msg, "warning"))  # noqa: E731

    _unique(out, [(("lines", i, "id"), ln.id) for i, ln in enumerate(plant.lines)], "line")
    _unique(
        out,
        [
            (("lines", i, "stations", j, "id"), st.id)
            for i, ln in enumerate(plant.lines)
            for j, st in enumerate(ln.stations)
        ],
        "station",
    )
    _unique(out, [(("products", i, "id"), p.id) for i, p in enumerate(plant.products)], "product")
    _unique(out, [(("resources", i, "id"), r.id) for i, r in enumerate(plant.resources)], "resource")
    _unique(out, [(("materials", i, "id"), m.id) for i, m in enumerate(plant.materials)], "material")

    for name, spec in plant.calendars.items():
        if spec.compile(plant.epoch, CALENDAR_PROBE).working_seconds(0, CALENDAR_PROBE) <= 0:
            err(("calendars", name), f"calendar {name!r} has no working time in the first 4 weeks")
    families = {p.setup_family for p in plant.products}
    for i, line in enumerate(plant.lines):
        if line.calendar is not None and line.calendar not in plant.calendars:
            err(("lines", i, "calendar"), _unknown("calendar", line.calendar, plant.calendars))
        for j, st in enumerate(line.stations):
            path = ("lines", i, "stations", j)
            if st.calendar is not None and st.calendar not in plant.calendars:
                err((*path, "calendar"), _unknown("calendar", st.calendar, plant.calendars))
            for a, row in st.setups.matrix.items():
                for b, t in row.items():
                    if t < 0:
                        err((*path, "setups", "matrix", a, b), "setup time must not be negative")
                for fam in (a, *row):
                    if fam not in families:
                        warn((*path, "setups", "matrix", a), f"no product has family {fam!r}")

    used: set[str] = set()
    for i, product in enumerate(plant.products):
        op_ids = [op.id for op in product.routing]
        for k, dup in enumerate(op_ids):
            if op_ids.index(dup) != k:
                err(("products", i, "routing", k, "id"), f"operation id {dup!r} repeats")
        graph = nx.DiGraph()
        graph.add_nodes_from(range(len(product.routing)))
        graph.add_edges_from((k, k + 1) for k in range(len(product.routing) - 1))
        for k, op in enumerate(product.routing):
            path = ("products", i, "routing", k)
            known = [s for s in op.stations if s in plant.station_map]
            for n, s in enumerate(op.stations):
                if s not in plant.station_map:
                    err((*path, "stations", n), _unknown("station", s, plant.station_map))
            used.update(known)
            if op.time.mean <= 0 and op.batch_time <= 0:
                err((*path, "time"), "processing time must be positive (mean is 0)")
            for r, need in op.resources.items():
                pool = plant.resource_map.get(r)
                if pool is None:
                    err((*path, "resources", r), _unknown("resource", r, plant.resource_map))
                elif need < 1 or need > pool.capacity:
                    err((*path, "resources", r), f"needs {need} of {r!r}, which has {pool.capacity}")
            for m, qty in op.consumes.items():
                if m not in plant.material_map:
                    err((*path, "consumes", m), _unknown("material", m, plant.material_map))
                elif qty <= 0:
                    err((*path, "consumes", m), "consumed quantity must be positive")
            if op.rework is not None:
                if op.rework.to not in op_ids:
                    err((*path, "rework", "to"), _unknown("operation", op.rework.to, op_ids))
                else:
                    target = op_ids.index(op.rework.to)
                    if target > k:
                        err(
                            (*path, "rework", "to"),
                            "rework must go back to this or an earlier operation",
                        )
                    graph.add_edge(k, target)
        # The main flow must be acyclic; rework edges are the only loops allowed.
        main = graph.copy()
        main.remove_edges_from(
            [
                (k, op_ids.index(op.rework.to))
                for k, op in enumerate(product.routing)
                if op.rework is not None and op.rework.to in op_ids
            ]
        )
        if not nx.is_directed_acyclic_graph(main):
            err(("products", i, "routing"), "routing loops back on itself")
    for i, line in enumerate(plant.lines):
        for j, st in enumerate(line.stations):
            if st.id not in used:
                warn(("lines", i, "stations", j, "id"), f"station {st.id!r} is used by no routing")
            if st.failures is not None and (st.failures.mtbf.mean <= 0 or st.failures.mttr.mean <= 0):
                err(("lines", i, "stations", j, "failures"), "MTBF and MTTR must be positive")

    if plant.order_stream is not None:
        for p, w in plant.order_stream.mix.items():
            if p not in plant.product_map:
                err(("order_stream", "mix", p), _unknown("product", p, plant.product_map))
            elif w <= 0:
                err(("order_stream", "mix", p), "mix weight must be positive")
        if plant.order_stream.interarrival.mean <= 0:
            err(("order_stream", "interarrival"), "inter-arrival time must be positive")
    return out


def _unique(out: list[Finding], items: list[tuple[Path, str]], what: str) -> None:
    seen: set[str] = set()
    for path, ident in items:
        if ident in seen:
            out.append((path, f"{what} id {ident!r} is defined twice", "error"))
        seen.add(ident)


def _unknown(what: str, name: str, known: object) -> str:
    names = sorted(known) if not isinstance(known, list) else known  # type: ignore[call-overload]
    shown = ", ".join(map(str, names[:12])) + (" ..." if len(names) > 12 else "")
    return f"unknown {what} {name!r} (known: {shown or 'none'})"
