"""Fidelity (`/fidelity`): how far to trust the twin's predictions, over time and where they miss."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, dcc, html

from dashboards.components import DashboardConfig, PageContext, message, section, table
from dashboards.fidelity_figures import misses_figure, score_over_time_figure
from dashboards.services import DashboardServices

PATH = "/fidelity"
TITLE = "Fidelity"


def layout(cfg: DashboardConfig, services: DashboardServices | None = None) -> html.Div:
    """The page's components; data arrives through its callbacks."""
    return html.Div(
        [
            html.H3("Fidelity", className="mt-2"),
            html.P(
                "Each score compares a prediction (the simulated replications behind a checked plan) with "
                "what the floor then made: about 80 % of station-hours inside the P10-P90 band when the "
                "model is right. Low coverage: calibrate the plant file from the history "
                "('plantwin calibrate').",
                className="small text-muted",
            ),
            dcc.Interval(id="fidelity-tick", interval=4 * cfg.refresh_ms),
            dcc.Graph(id="fidelity-over-time"),
            section(
                "Scores",
                table(
                    "fidelity-scores",
                    None,
                    columns=[
                        ("created", "Scored"),
                        ("run_id", "Score"),
                        ("simulation", "Prediction"),
                        ("coverage", "Coverage"),
                        ("cells", "Station-hours"),
                        ("bias_h", "Completion bias (h)"),
                        ("mae_h", "Completion MAE (h)"),
                        ("brier", "Brier"),
                    ],
                    row_selectable="single",
                    selected_rows=[],
                    page_size=8,
                ),
            ),
            html.Div(id="fidelity-misses"),
        ]
    )


def _rows(services: DashboardServices) -> list[dict[str, Any]]:
    df = services.fidelity_scores()
    rows = []
    for r in df.iloc[::-1].itertuples(index=False):
        rows.append(
            {
                "created": f"{r.created:%Y-%m-%d %H:%M}",
                "run_id": r.run_id,
                "simulation": r.simulation or "-",
                "coverage": "-" if r.coverage != r.coverage else f"{r.coverage:.0%}",
                "cells": r.cells,
                "bias_h": "-" if r.bias_h != r.bias_h else f"{r.bias_h:+.2f}",
                "mae_h": "-" if r.mae_h != r.mae_h else f"{r.mae_h:.2f}",
                "brier": "-" if r.brier != r.brier else f"{r.brier:.3f}",
            }
        )
    return rows


def register(app: Dash, ctx: PageContext) -> None:
    services = ctx.services

    @app.callback(
        Output("fidelity-over-time", "figure"),
        Output("fidelity-scores", "data"),
        Input("fidelity-tick", "n_intervals"),
    )
    def scores(_: int | None) -> tuple[Any, ...]:
        return score_over_time_figure(services.fidelity_scores()), _rows(services)

    @app.callback(
        Output("fidelity-misses", "children"),
        Input("fidelity-scores", "selected_rows"),
        Input("fidelity-scores", "data"),
    )
    def misses(selected: list[int] | None, data: list[dict[str, Any]] | None) -> Any:
        if not data:
            return message("No accuracy score yet.")
        row = data[(selected or [0])[0]] if (selected or [0])[0] < len(data) else data[0]
        return section(
            f"Where {row['simulation']} misses",
            dcc.Graph(
                id="fidelity-misses-figure", figure=misses_figure(services.fidelity_misses(row["run_id"]))
            ),
        )
