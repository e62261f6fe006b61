"""Without `until`, a run's KPI window ends when its last order is done, not at the horizon."""

from __future__ import annotations

from sim import simulate


def test_window_ends_at_the_last_completion(demo_plant, demo_orders) -> None:
    res = simulate(demo_plant, demo_orders[:10], rule="EDD", seed=3)
    last = float(res.orders["completion"].max())
    assert res.until == last
    units = res.kpis["units_good"]
    assert res.kpis["throughput_per_hour"] == units / ((last - res.start) / 3600.0)


def test_throughput_differs_between_seeds(demo_plant, demo_orders) -> None:
    values = {
        simulate(demo_plant, demo_orders[:10], rule="EDD", seed=s).kpis["throughput_per_hour"]
        for s in (1, 2, 3)
    }
    assert len(values) == 3
