"""State sequences to failure and setup spells, on hand-written logs with known answers."""

from __future__ import annotations

import pytest

from twin.calibration.spells import failure_spells, setup_spells


def test_failures_repairs_and_pauses() -> None:
    changes = [
        (0, "Idle"),
        (10, "Execute"),  # 40 busy
        (50, "Aborted"),  # failure 1: repair 5 ...
        (55, "Stopped"),  # ... paused off shift ...
        (100, "Aborted"),  # ... 7 more
        (107, "Execute"),  # 13 busy
        (120, "Setup"),  # 10 busy
        (130, "Aborted"),  # failure 2, open at the end: 20 censored
    ]
    sp = failure_spells(changes, 150)
    assert sp.exposed == pytest.approx(40 + 13 + 10)
    assert sp.failures == 2
    assert sp.repairs == (12,)
    assert sp.open_repair == 20


def test_a_repair_running_when_the_window_opens_is_left_out() -> None:
    sp = failure_spells([(0, "Aborted"), (30, "Execute"), (90, "Idle")], 100)
    assert sp.failures == 0 and sp.repairs == () and sp.open_repair is None and sp.exposed == 60


def test_setups_exclude_pauses_and_incomplete_ones() -> None:
    changes = [
        (0, "Setup"),  # running at the start: left out
        (5, "Execute"),
        (20, "Setup"),  # 10 + 5 after the break
        (30, "Stopped"),
        (60, "Setup"),
        (65, "Execute"),
        (80, "Setup"),  # open at the end: left out
    ]
    spells = setup_spells(changes, 90)
    assert [(s.start, s.duration) for s in spells] == [(20, 15)]
