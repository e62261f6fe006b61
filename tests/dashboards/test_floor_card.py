"""Station cards: a quiet station is not stale while the floor connection is alive."""

from __future__ import annotations

from dashboards.pages.floor import station_card
from twin.live import StationLive
from twin.states import MachineState


def _text(component: object) -> str:
    return str(component.to_plotly_json())  # type: ignore[attr-defined]


def test_a_quiet_idle_station_is_not_stale_while_connected() -> None:
    st = StationLive("saw", MachineState.IDLE, since=0.0, last_heard=0.0)
    assert "no data" not in _text(station_card(st, now=3600.0, stale_after=60.0, floor_stale=False))


def test_when_the_floor_is_lost_a_quiet_station_says_for_how_long() -> None:
    st = StationLive("saw", MachineState.IDLE, since=0.0, last_heard=0.0)
    assert "no data for 1h 00m" in _text(station_card(st, now=3600.0, stale_after=60.0, floor_stale=True))
    fresh = StationLive("saw", MachineState.EXECUTE, since=3590.0, last_heard=3590.0)
    assert "no data" not in _text(station_card(fresh, now=3600.0, stale_after=60.0, floor_stale=True))
