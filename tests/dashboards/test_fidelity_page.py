"""The fidelity page's data: scores kept in a DuckDB history file, read back by the dashboard's
services, drawn by its pure figures; and the page is in the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.app import PAGES, create_app
from dashboards.fidelity_figures import misses_figure, score_over_time_figure
from dashboards.history_services import HistoryServices
from dashboards.pages import fidelity
from plantwin.scoring import ScoredPrediction, record_score
from twin.fidelity import ALL, FidelityScore
from twin.history import HistoryStore


def _score(coverage: float, by: dict[tuple[str, str], tuple[float, int]]) -> FidelityScore:
    cells = sum(n for _, n in by.values())
    return FidelityScore(0.0, 86400.0, coverage, cells, by, 5400.0, 7200.0, 12, 0.21, 12)


def test_scores_over_time_and_where_they_miss(tmp_path: Path, demo_plant) -> None:  # type: ignore[no-untyped-def]
    with HistoryStore(tmp_path / "h.duckdb") as store:
        sim = store.record_run("simulation", started_by="test", plant=demo_plant)
        first = record_score(
            store,
            ScoredPrediction(
                sim, None, "demo", _score(0.4, {("cnc1", "PUMP-S"): (0.25, 40), ("saw", ALL): (0.55, 40)})
            ),
            "test",
        )
        record_score(
            store, ScoredPrediction(sim, None, "demo", _score(0.8, {("cnc1", "PUMP-S"): (0.8, 40)})), "test"
        )
        services = HistoryServices(store, demo_plant)
        scores = services.fidelity_scores()
        misses = services.fidelity_misses(first)
    assert list(scores["coverage"]) == [0.4, 0.8]
    assert list(scores["simulation"]) == [sim, sim]
    assert scores["bias_h"].iloc[0] == pytest.approx(1.5) and scores["mae_h"].iloc[0] == pytest.approx(2.0)
    assert list(misses.itertuples(index=False, name=None)) == [
        ("cnc1", "PUMP-S", 0.25, 40),
        ("saw", ALL, 0.55, 40),
    ]
    fig = score_over_time_figure(scores)
    assert list(fig.data[0].y) == [0.4, 0.8]
    bars = misses_figure(misses)
    assert list(bars.data[0].y) == ["saw / all products", "cnc1 / PUMP-S"]  # worst at the top
    assert "No accuracy score" in score_over_time_figure(scores.iloc[0:0]).layout.annotations[0].text


def test_the_page_is_in_the_app(tmp_path: Path, demo_plant) -> None:  # type: ignore[no-untyped-def]
    assert fidelity in PAGES
    with HistoryStore(tmp_path / "h.duckdb") as store:
        app = create_app(HistoryServices(store, demo_plant))
        client = app.server.test_client()
        assert client.get("/fidelity").status_code == 200
