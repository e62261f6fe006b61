"""Every shipped sample loads without errors (the foundation the other suites stand on)."""

from __future__ import annotations

from twin.loader import load_plant
from twin.samples import list_samples


def test_every_sample_loads_cleanly() -> None:
    samples = list_samples()
    assert {"demo", "single", "mmc", "tandem3", "flowline", "jobshop3x3"} <= set(samples)
    for name, path in samples.items():
        plant, warnings = load_plant(path)
        assert plant.name == name
        assert warnings == [], (name, warnings)
