"""Property tests: a mutated plant or order file loads or raises InputError, never anything else.

Mutations start from the shipped samples: as parsed data (delete a key, set a random value,
swap two values) and as text (truncate, insert, delete, shuffle lines, random bytes). When a
mutated plant still loads, the work `plantwin check` does next (capacity report, content
hash, calendars) must not fail either: a plant that loads is a plant the core can use.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.capacity import capacity_for_orders, capacity_for_stream
from twin.errors import InputError
from twin.loader import load_orders, load_plant, orders_from_csv, orders_from_json, plant_from_text
from twin.plant import Plant
from twin.samples import list_samples

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAMPLES = {name: path.read_text(encoding="utf-8") for name, path in sorted(list_samples().items())}
PARSED = {name: yaml.safe_load(text) for name, text in SAMPLES.items()}
DEMO_ORDERS = (Path(list_samples()["demo"]).parent / "orders.csv").read_text(encoding="utf-8")

WORDS = st.sampled_from(
    ["", "x", "06:00", "25:00", "mon-fri", "5m", "-1h", "1h30m", "nan", "inf", "1e999", "2026-13-01",
     "2026-12-02T06:00:00+01:00", "2026-12-02T06:00:00", "exponential", "null", "ns=2;s=a", "PUMP-S",
     "cnc1", "two-shift", "housing", "assemblers", "remake"]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | WORDS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | WORDS, inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of parsed YAML (the root excluded)."""
    out = []
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return out
    for key, value in items:
        out.append((*prefix, key))
        out.extend(paths(value, (*prefix, key)))
    return out


def parent(data: Any, path: tuple) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def use_loaded_plant(plant: Plant) -> None:
    """What `plantwin check` does with a plant that loaded."""
    assert len(plant.content_hash()) == 64
    for station in plant.stations:
        plant.tag_map(station.id)
        plant.working_time(station.id, 7 * 86400.0).working_seconds(0, 7 * 86400.0)
    if plant.order_stream is not None:
        capacity_for_stream(plant)
    if "PUMP-S" in plant.product_map:  # a mutated demo: its shipped order book, if it still fits
        try:
            orders = orders_from_csv(DEMO_ORDERS, plant, "orders.csv")
        except InputError:
            return
        capacity_for_orders(plant, orders)


def load_or_input_error(text: str) -> Plant | None:
    try:
        plant, _ = plant_from_text(text, "fuzz.yaml")
    except InputError as exc:
        assert exc.issues and all(i.source == "fuzz.yaml" for i in exc.issues)
        return None
    use_loaded_plant(plant)
    return plant


@st.composite
def mutated_data(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(PARSED[draw(st.sampled_from(sorted(PARSED)))])
    for _ in range(draw(st.integers(1, 3))):
        candidates = paths(data)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        holder = parent(data, path)
        action = draw(st.sampled_from(["delete", "set", "swap"]))
        if action == "delete":
            del holder[path[-1]]
        elif action == "set":
            holder[path[-1]] = draw(VALUES)
        else:
            other = draw(st.sampled_from(candidates))
            if other[: len(path)] == path or path[: len(other)] == other:
                continue  # one contains the other
            other_holder = parent(data, other)
            holder[path[-1]], other_holder[other[-1]] = other_holder[other[-1]], holder[path[-1]]
    return data


@FUZZ
@given(mutated_data())
def test_mutated_plant_data_loads_or_raises_input_error(data: Any) -> None:
    load_or_input_error(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@FUZZ
@given(mutated_data())
def test_mutated_plant_data_as_json_loads_or_raises_input_error(data: Any) -> None:
    load_or_input_error(json.dumps(data, default=str))


@st.composite
def mutated_text(draw: st.DrawFn, texts: dict[str, str]) -> str:
    text = texts[draw(st.sampled_from(sorted(texts)))]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["truncate", "insert", "delete", "swap lines"]))
        if action == "truncate":
            text = text[:at]
        elif action == "insert":
            piece = draw(
                st.text(max_size=6)
                | st.sampled_from([":", "- ", "[", "{", "&a ", "*a", "!!", "\t", '"', "\n  "])
            )
            text = text[:at] + piece + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        else:
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@FUZZ
@given(mutated_text(SAMPLES))
def test_mutated_plant_text_loads_or_raises_input_error(text: str) -> None:
    load_or_input_error(text)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=st.binary(max_size=300), prefix=st.sampled_from(["", SAMPLES["tandem3"][:200]]))
def test_random_bytes_as_plant_file(fuzz_dir: Path, data: bytes, prefix: str) -> None:
    path = fuzz_dir / "plant.yaml"
    path.write_bytes(prefix.encode() + data)
    try:
        load_plant(path)
    except InputError as exc:
        assert all(i.source == str(path) for i in exc.issues)


@pytest.fixture(scope="module")
def demo(sample_plant) -> Plant:  # type: ignore[no-untyped-def]
    return sample_plant("demo")


@FUZZ
@given(text=mutated_text({"demo": DEMO_ORDERS}))
def test_mutated_order_csv_loads_or_raises_input_error(demo: Plant, text: str) -> None:
    try:
        orders = orders_from_csv(text, demo, "fuzz.csv")
    except InputError as exc:
        assert all(i.source == "fuzz.csv" for i in exc.issues)
        return
    for order in orders:
        assert order.product in demo.product_map and order.quantity >= 1 and order.due >= order.release


DEMO_ROWS = [
    dict(zip(DEMO_ORDERS.splitlines()[0].split(","), ln.split(","), strict=True))
    for ln in DEMO_ORDERS.splitlines()[1:]
]


@st.composite
def mutated_order_json(draw: st.DrawFn) -> str:
    rows: Any = copy.deepcopy(DEMO_ROWS[: draw(st.integers(0, 6))])
    for _ in range(draw(st.integers(0, 3))):
        candidates = paths(rows)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        if draw(st.booleans()):
            del parent(rows, path)[path[-1]]
        else:
            parent(rows, path)[path[-1]] = draw(VALUES)
    if draw(st.booleans()):
        rows = {"orders": rows}
    return json.dumps(rows, indent=draw(st.sampled_from([None, 1, "\t"])))


@FUZZ
@given(text=mutated_order_json())
def test_mutated_order_json_loads_or_raises_input_error(demo: Plant, text: str) -> None:
    try:
        orders = orders_from_json(text, demo, "fuzz.json")
    except InputError as exc:
        assert all(i.source == "fuzz.json" for i in exc.issues)
        return
    if orders:
        capacity_for_orders(demo, orders)


@FUZZ
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".csv", ".json"]))
def test_random_bytes_as_order_file(demo: Plant, fuzz_dir: Path, data: bytes, suffix: str) -> None:
    path = fuzz_dir / f"orders{suffix}"
    path.write_bytes(data)
    try:
        load_orders(path, demo)
    except InputError as exc:
        assert all(i.source == str(path) for i in exc.issues)
