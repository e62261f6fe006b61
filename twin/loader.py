"""Load plants and order books from files, with errors that name the file, line and field.

These are the only functions of `twin` (outside `twin.history`) that touch the file
system; they return plain validated data.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import datetime
from pathlib import Path as FsPath
from typing import Any

from pydantic import TypeAdapter, ValidationError

from twin import bounds as B
from twin.bounds import out_of_range, show
from twin.calendar import CalendarSpec
from twin.checks import check_calendars, check_references, check_values
from twin.errors import InputError, Issue
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.timeutil import parse_time
from twin.yamlsource import SourceDoc, parse_yaml


def _read(path: FsPath) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Issue("file not found", str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Issue(f"cannot read file: {exc}", str(path))) from exc


def pydantic_issues(exc: ValidationError, doc: SourceDoc, prefix: tuple = ()) -> list[Issue]:
    """Translate pydantic's errors into issues with the line of the field."""
    errors = exc.errors()
    locs = []
    for e in errors:
        # Drop discriminator/function tags pydantic inserts into the location.
        loc = tuple(p for p in e["loc"] if isinstance(p, int) or ("[" not in p and "-" not in p))
        locs.append((*prefix, *loc))
    issues = []
    for e, loc in zip(errors, locs, strict=True):
        if e["type"] == "too_short" and any(o[: len(loc)] == loc and len(o) > len(loc) for o in locs):
            # A list whose only items failed is then "too short": the item errors say it all.
            continue
        if e["type"] != "missing" and loc not in doc.lines:
            # A field the short forms add (`time: 5` -> time.deterministic.value): name what
            # the user wrote instead.
            for k in range(len(loc) - 1, max(len(prefix), len(loc) - 3), -1):
                if loc[:k] in doc.lines:
                    loc = loc[:k]
                    break
        msg = friendly_message(e)
        field = _FIELD_PREFIX.match(msg) if e["type"] == "value_error" else None
        if field is not None and (*loc, field.group(1)) in doc.lines:
            # A check across fields names the one it is about ("time: got 0, ..."): point there.
            loc, msg = (*loc, field.group(1)), msg[field.end() :]
        issues.append(doc.issue(loc, msg))
    return issues


_FIELD_PREFIX = re.compile(r"^([a-z_]+): ")
_EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "string_pattern_mismatch": "an id of letters, digits, '_', '.' and '-' (not starting with '.' or '-')",
    "datetime_parsing": "an ISO datetime like 2026-11-30T06:00:00+01:00",
    "datetime_type": "an ISO datetime like 2026-11-30T06:00:00+01:00",
    "datetime_from_date_parsing": "an ISO datetime like 2026-11-30T06:00:00+01:00",
    "date_parsing": "a date like 2026-12-24",
    "date_type": "a date like 2026-12-24",
    "date_from_datetime_parsing": "a date like 2026-12-24",
    "time_parsing": "a clock time like 06:00",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "dataclass_type": "a mapping (key: value)",
}
_COMPARE = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def friendly_message(error: Any) -> str:
    """One pydantic error as 'got VALUE, expected ...' (our validators' messages kept as they are)."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind == "missing":
        return "required field is missing"
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in _EXPECTED:
        return out_of_range(got, _EXPECTED[kind])
    if kind in _COMPARE:
        bound = next(iter(ctx.values()), "?")
        return out_of_range(got, f"a number {_COMPARE[kind]} {show(bound)}")
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"got {_size(got)}, expected at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        n = ctx.get("max_length", "?")
        return f"got {_size(got)}, expected at most {n:,} items" if isinstance(n, int) else str(error["msg"])
    if kind == "literal_error":
        return out_of_range(got, f"one of {ctx.get('expected', '?')}")
    return f"{error['msg']} (got {show(got)})"


def _size(value: Any) -> str:
    if isinstance(value, list | tuple | dict | str):
        return "nothing" if not value else f"{len(value):,} items"
    return show(value)


def in_file_order(issues: list[Issue], limit: int = B.MAX_ERRORS) -> list[Issue]:
    """Issues sorted by line (those without a line first, ties in the order found), at most
    `limit` of them and a last one that says how many more there are."""
    ordered = sorted(issues, key=lambda i: i.line or 0)
    if len(ordered) <= limit:
        return ordered
    rest = len(ordered) - limit
    more = Issue(f"... and {rest} more error{'s' if rest != 1 else ''} (fix these first)", ordered[0].source)
    return [*ordered[:limit], more]


def _calendar_findings(data: dict[str, Any]) -> list[tuple[Any, str, str]]:
    """When the plant as a whole is malformed, the working-time check of each calendar that is
    valid on its own (and a valid epoch)."""
    try:
        epoch = TypeAdapter(datetime).validate_python(data.get("epoch"))
    except ValidationError:
        return []
    raw = data.get("calendars")
    if epoch.tzinfo is None or not isinstance(raw, dict) or not B.EPOCH_MIN <= epoch < B.EPOCH_MAX:
        return []
    valid = {}
    for name, spec in raw.items():
        try:
            valid[str(name)] = CalendarSpec.model_validate(spec)
        except ValidationError:
            continue
    return check_calendars(valid, epoch)


def plant_from_text(text: str, source: str = "<plant>") -> tuple[Plant, list[Issue]]:
    """Validate plant YAML text; return the plant and its warnings.

    Raises:
        InputError: the plant is malformed or inconsistent (every error listed).
    """
    doc = parse_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise InputError(Issue("a plant file must be a YAML mapping", source, 1))
    # Schema, references and cross-checks are all reported in one round, in file order.
    findings = check_references(doc.data)
    errors: list[Issue] = []
    try:
        plant = Plant.model_validate(doc.data)
    except ValidationError as exc:
        errors = pydantic_issues(exc, doc)
        findings += _calendar_findings(doc.data)
    else:
        findings += check_values(plant)
    errors += [doc.issue(p, m) for p, m, s in findings if s == "error"]
    if errors:
        raise InputError(in_file_order(errors))
    warnings = [doc.issue(p, m, "warning") for p, m, s in findings if s == "warning"]
    return plant, warnings


def load_plant(path: str | FsPath) -> tuple[Plant, list[Issue]]:
    """Load and check a plant file; return the plant and its warnings.

    Raises:
        InputError: missing file, bad YAML, schema or cross-reference errors.
    """
    return plant_from_text(_read(FsPath(path)), str(path))


def shipped_orders_path(plant_path: str | FsPath, plant: Plant) -> FsPath | None:
    """The order book a plant file names (relative to the file), if any."""
    if plant.orders is None:
        return None
    return (FsPath(plant_path).parent / plant.orders).resolve()


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
ORDER_FIELDS = ("id", "product", "quantity", "release", "due", "weight")
MAX_ORDER_OFFSET = B.MAX_TIME_OFFSET
"""Order times further than this from the plant epoch are refused (a mistyped year would
otherwise make every calendar compile decades of shifts)."""


def order_quantity_limit(plant: Plant, product: str) -> int:
    """The most units one order of `product` may hold: `MAX_QUANTITY`, and no more than
    `MAX_ORDER_WORK` of expected work over its routing (so its end stays on the plant clock)."""
    routing = plant.product_map[product].routing
    fixed = sum(op.batch_time for op in routing)
    per_unit = sum(op.time.mean for op in routing)
    if per_unit <= 0:
        return B.MAX_QUANTITY
    return max(1, min(B.MAX_QUANTITY, int((B.MAX_ORDER_WORK - fixed) / per_unit)))


def _order_from_row(
    row: dict[str, Any], plant: Plant, where: Any, seen: set[str]
) -> tuple[Order | None, list[Issue]]:
    """One order from a CSV row or JSON object; `where(field)` makes an Issue."""
    issues: list[Issue] = []
    unknown = [k for k in row if k not in (*ORDER_FIELDS, "priority") and k is not None]
    for k in unknown:
        issues.append(where(k, f"unknown column/field {k!r} (expected {', '.join(ORDER_FIELDS)})"))
    oid = str(row.get("id") or "").strip()
    if not oid:
        issues.append(where("id", "order id is missing"))
    elif oid in seen:
        issues.append(where("id", f"order id {oid!r} appears twice"))
    product = str(row.get("product") or "").strip()
    if product not in plant.product_map:
        known = ", ".join(sorted(plant.product_map))
        issues.append(where("product", f"unknown product {product!r} (known: {known})"))
    qty_raw = row.get("quantity")
    qty = 0
    limit = order_quantity_limit(plant, product) if product in plant.product_map else B.MAX_QUANTITY
    try:
        if isinstance(qty_raw, bool):
            raise TypeError
        qf = float(qty_raw)  # type: ignore[arg-type]
        if not qf.is_integer() or qf < 1:
            raise ValueError
        qty = int(qf)
    except (TypeError, ValueError, OverflowError):
        issues.append(where("quantity", out_of_range(qty_raw, f"a whole number from 1 to {limit:,}")))
    else:
        if qty > limit:
            why = (
                "" if limit == B.MAX_QUANTITY else f" (at most {B.years(B.MAX_ORDER_WORK)} of work per order)"
            )
            issues.append(
                where("quantity", out_of_range(qty_raw, f"a whole number from 1 to {limit:,}{why}"))
            )

    def time_of(name: str, default: float) -> float:
        value = row.get(name)
        if value is None or value == "":
            return default
        expected = f"a time within {B.years(MAX_ORDER_OFFSET)} of the plant epoch ({plant.epoch:%Y-%m-%d})"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            issues.append(where(name, f"cannot read time {show(value)}: {expected}"))
            return default
        try:
            t = parse_time(value, plant.epoch)
        except ValueError as exc:
            issues.append(where(name, str(exc)))
            return default
        except OverflowError:
            t = math.inf
        if not math.isfinite(t) or abs(t) > MAX_ORDER_OFFSET:
            issues.append(where(name, out_of_range(value, expected)))
            return default
        return t

    release = time_of("release", 0.0)
    due = time_of("due", math.inf)
    if "due" not in row or row.get("due") in (None, ""):
        issues.append(where("due", "due time is missing"))
    elif due < release:
        issues.append(where("due", f"got {row.get('due')!r}, expected a due time not before the release"))
    weight = 1.0
    w_raw = row.get("weight", row.get("priority"))
    if w_raw not in (None, ""):
        try:
            if isinstance(w_raw, bool):
                raise TypeError
            weight = float(w_raw)  # type: ignore[arg-type]
            if not math.isfinite(weight) or not 0 < weight <= B.MAX_WEIGHT:
                raise ValueError
        except (TypeError, ValueError):
            expected = f"a number above 0 to {B.MAX_WEIGHT:g}"
            issues.append(where("weight", out_of_range(w_raw, expected)))
        except OverflowError:
            issues.append(where("weight", out_of_range(w_raw, "a number above 0 to 1000")))
    if issues:
        return None, issues
    seen.add(oid)
    return Order(oid, product, qty, release, due, weight), []


def orders_from_csv(text: str, plant: Plant, source: str = "<orders.csv>") -> list[Order]:
    """Orders from CSV with a header (id, product, quantity, release, due, weight).

    Raises:
        InputError: every bad row and field, with its line.
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))  # spreadsheets write a BOM
    try:
        return _orders_from_reader(reader, plant, source)
    except csv.Error as exc:  # malformed CSV (e.g. a stray carriage return in an unquoted field)
        raise InputError(Issue(f"not valid CSV: {exc}", source, reader.line_num + 1)) from None


def _orders_from_reader(reader: csv.DictReader[str], plant: Plant, source: str) -> list[Order]:
    if reader.fieldnames is None:
        raise InputError(Issue("empty order file (expected a header line)", source, 1))
    twice = sorted({f for f in reader.fieldnames if reader.fieldnames.count(f) > 1})
    if twice:
        raise InputError(Issue(f"header repeats column(s) {', '.join(twice)}", source, 1))
    missing = [f for f in ("id", "product", "quantity", "due") if f not in reader.fieldnames]
    if missing:
        raise InputError(Issue(f"header lacks column(s) {', '.join(missing)}", source, 1))
    orders: list[Order] = []
    issues: list[Issue] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if None in row:
            issues.append(Issue("more values than header columns", source, line))
            continue

        def where(field: str, msg: str, _line: int = line) -> Issue:
            return Issue(msg, source, _line, field)

        order, errs = _order_from_row(row, plant, where, seen)
        issues.extend(errs)
        if order is not None:
            orders.append(order)
    if issues:
        raise InputError(issues)
    return orders


def orders_from_json(text: str, plant: Plant, source: str = "<orders.json>") -> list[Order]:
    """Orders from JSON: a list of objects, or {"orders": [...]}.

    Raises:
        InputError: every bad order and field, with its line.
    """
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Issue(f"not valid JSON: {exc.msg}", source, exc.lineno)) from None
    except RecursionError:
        raise InputError(Issue("not valid JSON: nested too deeply", source, 1)) from None
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        msg = "a \\u escape makes half a character (a lone surrogate): write the character itself"
        raise InputError(Issue(msg, source, 1)) from None
    # The data is json's; YAML (a superset of JSON, almost) only finds the line of each field.
    # A raw tab in valid JSON is whitespace (inside strings it must be escaped), which YAML
    # forbids as indentation; YAML reads an escaped surrogate pair as two halves, so those
    # escapes are masked for the line map; where YAML still cannot follow (keys over 1024
    # characters) the issues name line 1.
    try:
        lines = parse_yaml(_SURROGATE_ESCAPE.sub(r"\\u0078", text.replace("\t", " ")), source).lines
    except InputError as exc:
        if any(i.path for i in exc.issues):  # a key repeated in one object
            raise
        lines = {(): 1}
    doc = SourceDoc(parsed, lines, source)
    data, prefix = doc.data, ()
    if isinstance(data, dict) and "orders" in data:
        data, prefix = data["orders"], ("orders",)
    if not isinstance(data, list):
        raise InputError(Issue('expected a list of orders or {"orders": [...]}', source, 1))
    orders: list[Order] = []
    issues: list[Issue] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            issues.append(doc.issue((*prefix, i), "an order must be an object"))
            continue

        def where(field: str, msg: str, _i: int = i) -> Issue:
            return doc.issue((*prefix, _i, field), msg)

        row = dict(item)  # values as JSON typed them, so an error shows 5 and "5" apart
        order, errs = _order_from_row(row, plant, where, seen)
        issues.extend(errs)
        if order is not None:
            orders.append(order)
    if issues:
        raise InputError(issues)
    return orders


def load_orders(path: str | FsPath, plant: Plant) -> list[Order]:
    """Orders from a .csv or .json file, checked against the plant.

    Raises:
        InputError: unreadable file or any bad order.
    """
    p = FsPath(path)
    text = _read(p)
    if p.suffix.lower() == ".json":
        return orders_from_json(text, plant, str(p))
    return orders_from_csv(text, plant, str(p))


def load_schedule(path: str | FsPath) -> Schedule:
    """A schedule written by `Schedule.to_json`.

    Raises:
        InputError: unreadable or malformed file.
    """
    p = FsPath(path)
    text = _read(p)
    try:
        return Schedule.from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InputError(Issue(f"not valid JSON: {exc.msg}", str(p), exc.lineno)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(Issue(f"not a plantwin schedule: {exc}", str(p))) from None
