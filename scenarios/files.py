"""Reading scenario files: parse, validate every change against the plant, name file and line.

A scenario argument is a path or the name of a shipped library scenario
(`scenarios/library/NAME.yaml`). Loading resolves the base (plant, order book,
optional schedule), applies every variant's changes and every sweep point's
changes once, so a mistake is reported before anything is simulated, with the
same 'FILE:LINE: FIELD: message' form as the plant file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scenarios.changes import apply_located
from scenarios.model import CHANGE_TAGS, Change, Scenario, Sweep
from twin.errors import InputError, Issue
from twin.fit import misfit_summary, misfits
from twin.loader import friendly_message, load_orders, load_plant, load_schedule, shipped_orders_path
from twin.orders import Order, generate_orders
from twin.plant import Plant
from twin.samples import list_samples, sample_path
from twin.schedule import Schedule
from twin.timeutil import parse_time
from twin.yamlsource import SourceDoc, parse_yaml

LIBRARY_DIR = Path(__file__).parent / "library"


def list_library() -> dict[str, Path]:
    """Library scenario name -> path of its file."""
    return {p.stem: p for p in sorted(LIBRARY_DIR.glob("*.yaml"))}


def library_descriptions() -> dict[str, str]:
    """Library scenario name -> its one-line description."""
    out = {}
    for name, path in list_library().items():
        scenario, _ = parse_scenario(path.read_text(encoding="utf-8"), str(path))
        out[name] = scenario.description
    return out


def resolve_scenario_path(scenario: str) -> Path:
    """A scenario argument: a file path, or the name of a library scenario.

    Raises:
        InputError: neither.
    """
    p = Path(scenario)
    if p.is_file():
        return p
    found = list_library().get(scenario)
    if found is not None:
        return found
    names = ", ".join(list_library())
    raise InputError(Issue(f"no such scenario file or library scenario (library: {names})", scenario))


def parse_scenario(text: str, source: str) -> tuple[Scenario, SourceDoc]:
    """Validate scenario YAML (schema only, no plant yet).

    Raises:
        InputError: bad YAML or schema, with lines.
    """
    doc = parse_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise InputError(Issue("a scenario file must be a YAML mapping", source, 1))
    try:
        return Scenario.model_validate(doc.data), doc
    except ValidationError as exc:
        raise InputError(_scenario_issues(exc, doc)) from None


def _scenario_issues(exc: ValidationError, doc: SourceDoc) -> list[Issue]:
    """pydantic's errors as issues with lines, as `twin.loader.pydantic_issues` makes them, after
    dropping the change-type tag pydantic puts in a location ('changes[0].buffer.size' ->
    'changes[0].size'), so the line found is the user's field."""
    issues: list[Issue] = []
    for e in exc.errors():
        loc: list[str | int] = []
        previous: str | int | None = None
        for part in e["loc"]:
            if isinstance(part, str) and ("[" in part or "-" in part):
                continue
            tag_slot = isinstance(previous, int) or previous == "change"
            previous = part
            if part in CHANGE_TAGS and tag_slot:
                continue
            loc.append(part)
        msg = friendly_message(e)
        if e["type"] == "union_tag_invalid":
            tag = (e.get("ctx") or {}).get("tag", "?")
            msg = f"unknown change type {tag!r} (known: {', '.join(sorted(CHANGE_TAGS))})"
        issues.append(doc.issue(tuple(loc), msg))
    return issues


@dataclass(frozen=True)
class PreparedVariant:
    """A variant with its changes applied: the plant and book it will be judged on."""

    name: str
    description: str
    changes: tuple[Change, ...]
    plant: Plant
    orders: tuple[Order, ...]
    rush: tuple[str, ...]
    """Ids of orders the variant adds (re-planned with the minimal-disruption re-plan)."""


@dataclass(frozen=True)
class LoadedScenario:
    """A scenario ready to run: its file text, base data and validated variants."""

    scenario: Scenario
    text: str
    source: str
    plant: Plant
    plant_path: Path | None
    orders: tuple[Order, ...]
    schedule: Schedule | None
    now: float
    until: float | None
    variants: tuple[PreparedVariant, ...]
    sweep_points: tuple[tuple[dict[str, Any], tuple[Change, ...]], ...]
    """Every sweep grid point: ({parameter: value}, changes to apply)."""


def _resolve_file(ref: str, base_dir: Path) -> Path:
    for candidate in (base_dir / ref, Path(ref)):
        if candidate.is_file():
            return candidate
    if (base_dir / ref).is_dir() and (base_dir / ref / "plant.yaml").is_file():
        return base_dir / ref / "plant.yaml"
    return base_dir / ref


def _plant_of(ref: str, base_dir: Path, doc: SourceDoc) -> tuple[Plant, Path]:
    candidate = _resolve_file(ref, base_dir)
    if candidate.is_file():
        return load_plant(candidate)[0], candidate
    sample = sample_path(ref)
    if sample is not None:
        return load_plant(sample)[0], sample
    names = ", ".join(list_samples())
    raise InputError(doc.issue(("base", "plant"), f"no plant file {ref!r} and no such sample ({names})"))


def _time(value: float | str, plant: Plant, doc: SourceDoc, path: tuple[str | int, ...]) -> float:
    try:
        return parse_time(value, plant.epoch)
    except ValueError as exc:
        raise InputError(doc.issue(path, str(exc))) from None


def sweep_grid(sweep: Sweep, doc: SourceDoc | None = None) -> list[tuple[dict[str, Any], tuple[Change, ...]]]:
    """Every point of the sweep grid: the parameter values and the changes that realise them.

    Raises:
        InputError: a value does not fit its change's field (named by line when `doc` is given).
    """
    per_param: list[list[tuple[str, Any, Change]]] = []
    for i, param in enumerate(sweep.parameters):
        template = param.change.model_dump(by_alias=True)
        if param.field not in template or param.field == "type":
            fields = ", ".join(k for k in template if k != "type")
            issue = Issue(f"change {template['type']!r} has no field {param.field!r} (fields: {fields})")
            if doc is not None:
                issue = doc.issue(("sweep", "parameters", i, "field"), issue.message)
            raise InputError(issue)
        points = []
        for n, value in enumerate(param.values):
            try:
                change = type(param.change).model_validate({**template, param.field: value})
            except ValidationError as exc:
                msg = "; ".join(e["msg"] for e in exc.errors())
                where = ("sweep", "parameters", i, "values", n)
                raise InputError(
                    doc.issue(where, msg) if doc is not None else Issue(f"{param.name}={value!r}: {msg}")
                ) from None
            points.append((param.name, value, change))
        per_param.append(points)
    grid: list[tuple[dict[str, Any], tuple[Change, ...]]] = []
    if len(per_param) == 1:
        for name, value, change in per_param[0]:
            grid.append(({name: value}, (*sweep.changes, change)))
    else:
        for n1, v1, c1 in per_param[0]:
            for n2, v2, c2 in per_param[1]:
                grid.append(({n1: v1, n2: v2}, (*sweep.changes, c1, c2)))
    return grid


def load_scenario(
    scenario: str | Path, *, plant: Plant | None = None, orders: list[Order] | None = None
) -> LoadedScenario:
    """Read, validate and prepare a scenario (path or library name).

    `plant`/`orders` override the file's base (the dashboard passes the live plant).

    Raises:
        InputError: anything wrong in the file, its base, or any change, with its line.
    """
    path = resolve_scenario_path(str(scenario))
    text = path.read_text(encoding="utf-8")
    return prepare(text, str(path), base_dir=path.parent, plant=plant, orders=orders)


def prepare(
    text: str,
    source: str,
    *,
    base_dir: Path,
    plant: Plant | None = None,
    orders: list[Order] | None = None,
) -> LoadedScenario:
    """`load_scenario` from text (the file's directory resolves relative base paths)."""
    scn, doc = parse_scenario(text, source)
    plant_path: Path | None = None
    if plant is None:
        plant, plant_path = _plant_of(scn.base.plant, base_dir, doc)
    if orders is None:
        if scn.base.orders is not None:
            orders = load_orders(_resolve_file(scn.base.orders, base_dir), plant)
        elif scn.base.generate is not None:
            if plant.order_stream is None:
                raise InputError(
                    doc.issue(("base", "generate"), "the plant has no order_stream to generate from")
                )
            horizon = _time(scn.base.generate, plant, doc, ("base", "generate"))
            orders = generate_orders(plant.order_stream, horizon, scn.judge.seed)
        elif plant_path is not None and (shipped := shipped_orders_path(plant_path, plant)) is not None:
            orders = load_orders(shipped, plant)
        else:
            raise InputError(
                doc.issue(("base",), "no order book: give base.orders, or base.generate for an order stream")
            )
    if scn.base.changes:
        now0 = _time(scn.base.now, plant, doc, ("base", "now"))
        plant, orders = apply_located(
            plant, orders, scn.base.changes, now=now0, where=doc.issue, prefix=("base", "changes")
        )
    schedule = load_schedule(_resolve_file(scn.base.schedule, base_dir)) if scn.base.schedule else None
    if schedule is not None and (found := misfits(schedule, plant, orders)):
        raise InputError(doc.issue(("base", "schedule"), misfit_summary(found, plant)))  # no verdict on it
    now = _time(scn.base.now, plant, doc, ("base", "now"))
    until = _time(scn.base.until, plant, doc, ("base", "until")) if scn.base.until is not None else None
    variants = []
    for prefix, variant in scn.all_variants():
        new_plant, new_orders = apply_located(
            plant, orders, variant.changes, now=now, where=doc.issue, prefix=prefix
        )
        base_ids = {o.id for o in orders}
        rush = tuple(o.id for o in new_orders if o.id not in base_ids)
        variants.append(
            PreparedVariant(
                variant.name, variant.description, variant.changes, new_plant, tuple(new_orders), rush
            )
        )
    points: list[tuple[dict[str, Any], tuple[Change, ...]]] = []
    if scn.sweep is not None:
        points = sweep_grid(scn.sweep, doc)
        for values, changes in points:
            try:
                apply_located(plant, orders, changes, now=now, where=doc.issue, prefix=("sweep", "changes"))
            except InputError as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
                raise InputError(
                    [
                        Issue(f"at sweep point {shown}: {i.message}", i.source, i.line, i.path)
                        for i in exc.issues
                    ]
                ) from None
    return LoadedScenario(
        scn,
        text,
        source,
        plant,
        plant_path,
        tuple(orders),
        schedule,
        now,
        until,
        tuple(variants),
        tuple(points),
    )


def rush_order_scenario(
    plant: Plant,
    orders: list[Order] | None,
    product: str,
    quantity: int,
    due: float,
    *,
    order_id: str = "RUSH",
    priority: float = 1.0,
    replications: int = 10,
    seed: int = 0,
    mode: str = "dispatch",
    now: float = 0.0,
    name: str | None = None,
    description: str | None = None,
    source: str = "<rush order>",
) -> LoadedScenario:
    """A one-variant scenario adding a rush order to `plant` and `orders` (what the dashboard's
    rush-order form asks), with its YAML text kept for the history. `orders` None: the plant's
    own order book; `name` and `description` default to ones made from the order.

    Raises:
        InputError: unknown product, bad quantity or due time, an order id already taken.
    """
    data = {
        "name": name or f"rush-{quantity}-{product}",
        "description": description or f"Rush order of {quantity} {product} due at plant second {due:g}",
        "base": {"plant": plant.name, "now": now},
        "judge": {"replications": replications, "seed": seed, "planner": {"mode": mode}},
        "changes": [
            {"type": "add_order", "id": order_id, "product": product, "quantity": quantity,
             "due": due, "priority": priority}
        ],
    }  # fmt: skip
    text = yaml.safe_dump(data, sort_keys=False)
    return prepare(text, source, base_dir=Path.cwd(), plant=plant, orders=orders)
