"""Quality (`/quality`): a control chart (I-MR or X-bar/R) of a station's process value with the
Western Electric and Nelson rules flagged; limits and rules come from `twin.spc`."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dashboards.components import DashboardConfig, PageContext, fmt_time, message, section, table
from dashboards.figures import control_chart_figure, empty_figure
from dashboards.services import DashboardServices
from twin.spc import (
    NELSON,
    RULE_DESCRIPTIONS,
    WESTERN_ELECTRIC,
    check_rules,
    individuals_limits,
    subgroups_of,
    xbar_r_limits,
)

PATH = "/quality"
TITLE = "Quality"


def layout(cfg: DashboardConfig, services: DashboardServices | None = None) -> html.Div:
    """The page's components; data arrives through its callbacks."""
    return html.Div(
        [
            html.H3("Quality", className="mt-2"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Process value", html_for="quality-tag"),
                            dcc.Dropdown(id="quality-tag", clearable=False),
                        ],
                        md=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Chart"),
                            dbc.RadioItems(
                                id="quality-chart",
                                options=[
                                    {"label": "Individuals / MR", "value": "imr"},
                                    {"label": "X-bar / R", "value": "xbar"},
                                ],
                                value="imr",
                                inline=True,
                            ),
                        ],
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Subgroup size"),
                            dbc.Input(id="quality-n", type="number", min=2, max=10, step=1, value=5),
                        ],
                        md=1,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Rules"),
                            dbc.Checklist(
                                id="quality-rules",
                                options=[
                                    {"label": "Western Electric", "value": "we"},
                                    {"label": "Nelson", "value": "nelson"},
                                ],
                                value=["we"],
                                inline=True,
                            ),
                        ],
                        md=2,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Last points"),
                            dcc.Dropdown(
                                id="quality-limit", options=[100, 250, 500, 1000], value=250, clearable=False
                            ),
                        ],
                        md=2,
                    ),
                ],
                className="g-2",
            ),
            dcc.Graph(
                id="quality-graph",
                figure=empty_figure("Choose a process value"),
                config={"displaylogo": False},
            ),
            section("Rule violations", html.Div(id="quality-violations")),
        ]
    )


def register(app: Dash, ctx: PageContext) -> None:
    services = ctx.services

    @app.callback(
        Output("quality-tag", "options"), Output("quality-tag", "value"), Input("quality-tag", "id")
    )
    def load(_id: str) -> tuple[Any, ...]:
        plant = services.plant()
        opts = [
            {
                "label": f"{s.id}: {pv.name} ({pv.unit})" if pv.unit else f"{s.id}: {pv.name}",
                "value": f"{s.id}|{pv.name}",
            }
            for line in plant.lines
            for s in line.stations
            for pv in s.process_values
        ]
        return opts, (opts[0]["value"] if opts else None)

    @app.callback(
        Output("quality-graph", "figure"),
        Output("quality-violations", "children"),
        Input("quality-tag", "value"),
        Input("quality-chart", "value"),
        Input("quality-n", "value"),
        Input("quality-rules", "value"),
        Input("quality-limit", "value"),
    )
    def chart(tag: str | None, kind: str, n: int | None, families: list[str], limit: int) -> tuple[Any, ...]:
        if not tag:
            return empty_figure("This plant declares no process values"), message("Nothing to check.")
        station, name = tag.split("|", 1)
        plant = services.plant()
        pv = next(
            p
            for line in plant.lines
            for s in line.stations
            if s.id == station
            for p in s.process_values
            if p.name == name
        )
        series = services.process_series(station, name, None, None, int(limit))
        rules = [r for fam in families for r in (WESTERN_ELECTRIC if fam == "we" else NELSON)]
        size = int(n or 5)
        if kind == "xbar" and not 2 <= size <= 10:
            return empty_figure("Subgroup size must be 2 to 10"), message(
                "Subgroup size must be 2 to 10.", "warning"
            )
        needed = 2 * size if kind == "xbar" else 2
        if len(series) < needed:
            return empty_figure(f"Not enough values of {station} {name} yet ({len(series)})"), message(
                "Nothing to check."
            )
        times = series["time"].astype(float).tolist()
        values = series["value"].astype(float).tolist()
        spec = (pv.lsl, pv.usl)
        title = f"{station} {name}"
        if kind == "xbar":
            groups = subgroups_of(values, size)
            xr = xbar_r_limits(groups)
            gtimes = [times[i * size + size - 1] for i in range(len(groups))]
            found = check_rules(xr.means, xr.xbar.centre, xr.xbar.sigma, rules) if xr.xbar.sigma > 0 else []
            fig = control_chart_figure(
                gtimes, xr.means, xr, found, plant.epoch, name=title, unit=pv.unit, spec=spec
            )
            point_times, point_values = gtimes, list(xr.means)
        else:
            im = individuals_limits(values)
            found = (
                check_rules(values, im.individuals.centre, im.individuals.sigma, rules)
                if im.individuals.sigma > 0
                else []
            )
            fig = control_chart_figure(
                times, values, im, found, plant.epoch, name=title, unit=pv.unit, spec=spec
            )
            point_times, point_values = times, values
        if not found:
            return fig, message(
                f"No violation of {', '.join(rules) or 'any selected rule'} "
                f"in the last {len(values)} values.",
                "success",
            )
        rows = pd.DataFrame(
            [
                {
                    "time": fmt_time(point_times[v.index], plant.epoch),
                    "value": f"{point_values[v.index]:.4g}",
                    "rule": v.rule,
                    "meaning": RULE_DESCRIPTIONS[v.rule],
                    "points": v.index - v.first + 1,
                }
                for v in found
            ]
        )
        return fig, table(
            "quality-violations-table",
            rows.iloc[::-1],
            columns=[
                ("time", "Time"),
                ("value", f"Value ({pv.unit})"),
                ("rule", "Rule"),
                ("meaning", "Meaning"),
                ("points", "Points in pattern"),
            ],
            page_size=8,
        )
