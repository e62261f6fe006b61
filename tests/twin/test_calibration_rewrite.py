"""In-place YAML rewrite: changed values only, everything else byte for byte."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.calibration.rewrite import render, rewrite_values
from twin.loader import plant_from_text
from twin.samples import sample_path

TEXT = """\
# a comment that stays
a:
  b: 1          # trailing comment
  c: {d: 2, e: [1, 2]}
list:
  - {id: x, v: 3}
  - id: y
    v: 4
"""


def test_values_are_replaced_in_their_spans_and_keys_added_in_the_mapping_style() -> None:
    out = rewrite_values(
        TEXT,
        {
            ("a", "b"): 5.5,
            ("a", "c", "d"): {"lognormal": {"mean": 84.1, "cv": 0.15}},
            ("list", 0, "w"): 0.9,
            ("list", 1, "w"): "3.5h",
        },
    )
    assert out.splitlines()[0] == "# a comment that stays"
    assert "  b: 5.5          # trailing comment" in out
    assert "  c: {d: {lognormal: {mean: 84.1, cv: 0.15}}, e: [1, 2]}" in out
    assert "  - {id: x, v: 3, w: 0.9}" in out
    assert "    v: 4\n    w: 3.5h" in out
    data = yaml.safe_load(out)
    assert data["list"][1] == {"id": "y", "v": 4, "w": "3.5h"}


def test_no_change_is_the_same_text() -> None:
    path = sample_path("demo")
    assert path is not None
    text = path.read_text()
    assert rewrite_values(text, {}) == text


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=0.001, max_value=1e7, allow_nan=False),
        st.integers(min_value=0, max_value=10**9),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=12),
    )
)
def test_any_rendered_value_reads_back_as_itself(value: object) -> None:
    out = rewrite_values(TEXT, {("a", "b"): value, ("list", 0, "v"): [value, {"k": value}]})
    data = yaml.safe_load(out)
    assert data["a"]["b"] == value
    assert data["list"][0]["v"] == [value, {"k": value}]
    assert render(value)  # never empty


def test_a_rewritten_demo_plant_loads_with_the_new_values() -> None:
    path = sample_path("demo")
    assert path is not None
    out = rewrite_values(
        path.read_text(),
        {
            ("products", 0, "routing", 1, "time"): {"lognormal": {"mean": 84.0, "cv": 0.15}},
            ("products", 0, "routing", 0, "yield"): 0.95,
            ("lines", 0, "stations", 1, "failures", "mtbf"): {"exponential": "3.5h"},
        },
    )
    plant, _ = plant_from_text(out, "rewritten")
    assert plant.products[0].routing[1].time.mean == 84.0
    assert plant.products[0].routing[0].yield_ == 0.95
    assert plant.station_map["cnc1"].failures is not None
    assert plant.station_map["cnc1"].failures.mtbf.mean == 3.5 * 3600
