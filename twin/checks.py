"""Cross-reference and sanity checks of a plant.

Errors make the plant unusable; warnings are reported and loading goes on.
Each issue carries the field path, so the loader can name the line.

The reference checks (`check_references`) read the plant as plain data, as the file wrote it
or as `Plant.model_dump` gives it, and tolerate anything malformed: the loader runs them even
when the schema fails, so an unknown station is reported in the same round as a bad number.
The checks that need whole values (calendars, plant times against the epoch) run on the
validated `Plant` (`check_values`), or on the calendars alone when the rest is malformed.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from twin.bounds import MAX_TIME_OFFSET, out_of_range, years
from twin.calendar import CalendarSpec
from twin.plant import Plant
from twin.timeutil import parse_time
from twin.yamlsource import Path

Finding = tuple[Path, str, str]  # (path, message, severity)
CALENDAR_PROBE = 28 * 86400.0


def check_plant(plant: Plant) -> list[Finding]:
    """Everything wrong or suspicious about `plant`, as (path, message, severity)."""
    return check_references(plant.model_dump(by_alias=True)) + check_values(plant)


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _map(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> str | None:
    ident = _map(value).get("id")
    return ident if isinstance(ident, str) else None


def _ids(value: Any) -> list[str]:
    return [i for i in (_id(v) for v in _items(value)) if i is not None]


def check_references(data: Any) -> list[Finding]:
    """Duplicate ids and names that point nowhere, in plant data as written (never raises)."""
    out: list[Finding] = []
    err = lambda path, msg: out.append((path, msg, "error"))  # noqa: E731
    warn = lambda path, msg: out.append((path, msg, "warning"))  # noqa: E731
    root = _map(data)
    lines = _items(root.get("lines"))
    products = _items(root.get("products"))
    calendars = _map(root.get("calendars"))
    stations = [
        (i, j, st) for i, ln in enumerate(lines) for j, st in enumerate(_items(_map(ln).get("stations")))
    ]
    station_ids = {s for s in (_id(st) for _, _, st in stations) if s is not None}
    resources = {_id(r): _map(r).get("capacity") for r in _items(root.get("resources")) if _id(r)}
    materials = set(_ids(root.get("materials")))
    product_ids = set(_ids(products))

    _unique(out, [(("lines", i, "id"), _id(ln)) for i, ln in enumerate(lines)], "line")
    _unique(out, [(("lines", i, "stations", j, "id"), _id(st)) for i, j, st in stations], "station")
    _unique(out, [(("products", i, "id"), _id(p)) for i, p in enumerate(products)], "product")
    _unique(
        out,
        [(("resources", i, "id"), _id(r)) for i, r in enumerate(_items(root.get("resources")))],
        "resource",
    )
    _unique(
        out,
        [(("materials", i, "id"), _id(m)) for i, m in enumerate(_items(root.get("materials")))],
        "material",
    )

    families = {str(_map(p).get("family") or _id(p)) for p in products}
    for i, line in enumerate(lines):
        cal = _map(line).get("calendar")
        if isinstance(cal, str) and cal not in calendars:
            err(("lines", i, "calendar"), _unknown("calendar", cal, calendars))
    for i, j, st in stations:
        path = ("lines", i, "stations", j)
        cal = _map(st).get("calendar")
        if isinstance(cal, str) and cal not in calendars:
            err((*path, "calendar"), _unknown("calendar", cal, calendars))
        for a, row in _map(_map(_map(st).get("setups")).get("matrix")).items():
            for fam in (a, *_map(row)):
                if fam not in families:
                    warn((*path, "setups", "matrix", a), f"no product has family {fam!r}")

    used: set[str] = set()
    for i, product in enumerate(products):
        routing = _items(_map(product).get("routing"))
        op_ids = [_id(op) for op in routing]
        for k, dup in enumerate(op_ids):
            if dup is not None and op_ids.index(dup) != k:
                err(("products", i, "routing", k, "id"), f"operation id {dup!r} repeats")
        for k, op in enumerate(routing):
            path = ("products", i, "routing", k)
            op = _map(op)
            eligible = op.get("stations")
            refs = [eligible] if isinstance(eligible, str) else _items(eligible)
            for n, s in enumerate(refs):
                if not isinstance(s, str):
                    continue
                if s in station_ids:
                    used.add(s)
                else:
                    err((*path, "stations", n), _unknown("station", s, station_ids))
            for r, need in _map(op.get("resources")).items():
                if r not in resources:
                    err((*path, "resources", r), _unknown("resource", r, resources))
                    continue
                capacity = resources[r]
                if _whole(need) and _whole(capacity) and 1 <= capacity < need:
                    err(
                        (*path, "resources", r),
                        f"got {need} of {r!r}, expected at most its capacity {capacity}",
                    )
            for m in _map(op.get("consumes")):
                if m not in materials:
                    err((*path, "consumes", m), _unknown("material", m, materials))
            target = _map(op.get("rework")).get("to")
            if isinstance(target, str):
                if target not in op_ids:
                    err((*path, "rework", "to"), _unknown("operation", target, [o for o in op_ids if o]))
                elif op_ids.index(target) > k:
                    err((*path, "rework", "to"), f"got {target!r}, expected this or an earlier operation")
    for i, j, st in stations:
        ident = _id(st)
        if ident is not None and ident not in used:
            warn(("lines", i, "stations", j, "id"), f"station {ident!r} is used by no routing")

    for p in _map(_map(root.get("order_stream")).get("mix")):
        if p not in product_ids:
            err(("order_stream", "mix", p), _unknown("product", p, product_ids))
    return out


def check_values(plant: Plant) -> list[Finding]:
    """The checks that need validated values: calendars that never work and plant times too
    far from the epoch."""
    out: list[Finding] = check_calendars(plant.calendars, plant.epoch)
    for i, line in enumerate(plant.lines):
        for j, st in enumerate(line.stations):
            for k, window in enumerate(st.maintenance):
                for name in ("start", "until"):
                    value = getattr(window, name)
                    path = ("lines", i, "stations", j, "maintenance", k, name)
                    out.extend(_time_finding(path, value, plant.epoch))
    for i, material in enumerate(plant.materials):
        for k, delivery in enumerate(material.deliveries):
            out.extend(_time_finding(("materials", i, "deliveries", k, "at"), delivery.at, plant.epoch))
    return out


def check_calendars(calendars: dict[str, CalendarSpec], epoch: datetime) -> list[Finding]:
    """A calendar with no working time in its first four weeks is an error."""
    out: list[Finding] = []
    for name, spec in calendars.items():
        if spec.compile(epoch, CALENDAR_PROBE).working_seconds(0, CALENDAR_PROBE) <= 0:
            out.append(
                (("calendars", name), f"calendar {name!r} has no working time in the first 4 weeks", "error")
            )
    return out


def _time_finding(path: Path, value: float | str | None, epoch: datetime) -> list[Finding]:
    if value is None:
        return []
    try:
        t = parse_time(value, epoch)
    except (ValueError, OverflowError):
        return [(path, f"got {value!r}, expected a time", "error")]
    if not math.isfinite(t) or abs(t) > MAX_TIME_OFFSET:
        expected = f"a time within {years(MAX_TIME_OFFSET)} of the epoch ({epoch:%Y-%m-%d})"
        return [(path, out_of_range(value, expected), "error")]
    return []


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unique(out: list[Finding], items: list[tuple[Path, str | None]], what: str) -> None:
    seen: set[str] = set()
    for path, ident in items:
        if ident is None:
            continue
        if ident in seen:
            out.append((path, f"{what} id {ident!r} is defined twice", "error"))
        seen.add(ident)


def _unknown(what: str, name: str, known: object) -> str:
    names = sorted(map(str, known)) if not isinstance(known, list) else known  # type: ignore[call-overload]
    shown = ", ".join(map(str, names[:12])) + (" ..." if len(names) > 12 else "")
    return f"unknown {what} {name!r} (known: {shown or 'none'})"
