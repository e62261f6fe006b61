"""Sample plants shipped with plantwin: the demo plant and small textbook plants for tests."""

from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).parent


def list_samples() -> dict[str, Path]:
    """Sample name -> path of its plant file."""
    return {p.parent.name: p for p in sorted(SAMPLES_DIR.glob("*/plant.yaml"))}


def sample_path(name: str) -> Path | None:
    """The plant file of a shipped sample, or None if there is no sample of that name."""
    return list_samples().get(name)
