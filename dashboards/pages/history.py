"""History (`/history`): runs with filters, and two chosen runs side by side."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dashboards.components import DashboardConfig, PageContext, message, section, table
from dashboards.services import RUN_KINDS, DashboardServices, run_kpis_text

PATH = "/history"
TITLE = "History"


def layout(cfg: DashboardConfig, services: DashboardServices | None = None) -> html.Div:
    """The page's components; data arrives through its callbacks."""
    return html.Div(
        [
            html.H3("History", className="mt-2"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Kind", html_for="history-kind"),
                            dcc.Dropdown(
                                id="history-kind",
                                options=[{"label": k, "value": k} for k in RUN_KINDS],
                                placeholder="all kinds",
                            ),
                        ],
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Created since"),
                            html.Div(dcc.DatePickerSingle(id="history-since", clearable=True)),
                        ],
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Show"),
                            dcc.Dropdown(
                                id="history-limit", options=[50, 100, 200, 500], value=100, clearable=False
                            ),
                        ],
                        md=2,
                    ),
                ],
                className="g-2",
            ),
            html.Div("Tick two runs to compare them side by side.", className="small text-muted mt-2"),
            table(
                "history-runs",
                None,
                columns=[
                    ("run_id", "Run"),
                    ("kind", "Kind"),
                    ("created", "Created"),
                    ("label", "What"),
                    ("plant", "Plant"),
                    ("parent", "Parent"),
                    ("kpis", "KPIs"),
                ],
                row_selectable="multi",
                style_cell_conditional=[
                    {
                        "if": {"column_id": "kpis"},
                        "whiteSpace": "normal",
                        "minWidth": "240px",
                        "maxWidth": "420px",
                    }
                ],
                selected_rows=[],
                page_size=10,
            ),
            section("Side by side", html.Div(id="history-compare")),
        ]
    )


def register(app: Dash, ctx: PageContext) -> None:
    services = ctx.services

    @app.callback(
        Output("history-runs", "data"),
        Output("history-runs", "selected_rows"),
        Input("history-kind", "value"),
        Input("history-since", "date"),
        Input("history-limit", "value"),
    )
    def runs(kind: str | None, since: str | None, limit: int) -> tuple[Any, ...]:
        moment = datetime.fromisoformat(since).astimezone() if since else None
        found = services.list_runs(kind=kind, since=moment, limit=int(limit))
        rows = [
            {
                "run_id": r.run_id,
                "kind": r.kind,
                "created": r.created.strftime("%Y-%m-%d %H:%M"),
                "label": r.label,
                "plant": r.plant,
                "parent": r.parent or "-",
                "kpis": run_kpis_text(r.kpis),
            }
            for r in found
        ]
        return rows, []

    @app.callback(
        Output("history-compare", "children"),
        Input("history-runs", "selected_rows"),
        Input("history-runs", "data"),
    )
    def compare(selected: list[int] | None, data: list[dict[str, Any]] | None) -> Any:
        chosen = [data[i]["run_id"] for i in (selected or []) if data and i < len(data)]
        if len(chosen) != 2:
            return message(f"{len(chosen)} of 2 runs chosen.")
        a, b = chosen
        df: pd.DataFrame = services.compare_runs(a, b)
        return table("history-compare-table", df, columns=[("item", ""), ("a", a), ("b", b)], page_size=30)
