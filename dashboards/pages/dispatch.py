"""Dispatch (`/dispatch`): candidate schedules with their verdicts; sending is enabled only for an
accepted verdict, and a refused one shows its reasons."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboards.components import (
    DashboardConfig,
    PageContext,
    fmt_time,
    message,
    reasons_list,
    section,
    table,
)
from dashboards.figures import empty_figure, gantt_figure
from dashboards.services import Candidate, DashboardServices

PATH = "/dispatch"
TITLE = "Dispatch"


def layout(cfg: DashboardConfig, services: DashboardServices | None = None) -> html.Div:
    """The page's components; data arrives through its callbacks."""
    return html.Div(
        [
            html.H3("Dispatch", className="mt-2"),
            html.Div(id="dispatch-candidates"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Schedule", html_for="dispatch-choose"),
                            dcc.Dropdown(id="dispatch-choose", clearable=False),
                        ],
                        md=6,
                    ),
                    dbc.Col(
                        dbc.Button(
                            "Dispatch to the floor",
                            id="dispatch-send",
                            color="success",
                            disabled=True,
                            className="mt-4",
                        ),
                        md="auto",
                    ),
                    dbc.Col(
                        html.Div(
                            "Only a schedule the simulator accepted can be sent.",
                            className="small text-muted mt-4 pt-2",
                        ),
                        md="auto",
                    ),
                ],
                className="g-2 mt-2",
            ),
            html.Div(id="dispatch-result"),
            html.Div(id="dispatch-verdict"),
            dcc.Graph(
                id="dispatch-gantt",
                figure=empty_figure("Choose a schedule", 260),
                config={"displaylogo": False},
            ),
        ]
    )


def verdict_text(c: Candidate) -> str:
    if c.verdict is None:
        return "not checked"
    return "accepted" if c.verdict.accepted else "refused"


def register(app: Dash, ctx: PageContext) -> None:
    services = ctx.services

    @app.callback(
        Output("dispatch-candidates", "children"),
        Output("dispatch-choose", "options"),
        Output("dispatch-choose", "value"),
        Input("dispatch-choose", "id"),
    )
    def load(_id: str) -> tuple[Any, ...]:
        cands = services.candidates()
        if not cands:
            return message("No candidate schedules in the history yet: plan first."), [], None
        epoch = services.plant().epoch
        rows = pd.DataFrame(
            [
                {
                    "run_id": c.run_id,
                    "label": c.label,
                    "operations": len(c.schedule.operations),
                    "makespan": fmt_time(c.schedule.makespan, epoch),
                    "verdict": verdict_text(c),
                    "orders": len(c.verdict.orders) if c.verdict else 0,
                }
                for c in cands
            ]
        )
        view = table(
            "dispatch-table",
            rows,
            columns=[
                ("run_id", "Plan run"),
                ("label", "Made by"),
                ("operations", "Operations"),
                ("makespan", "Ends"),
                ("orders", "Orders checked"),
                ("verdict", "Verdict"),
            ],
            page_size=8,
            style_data_conditional=[
                {
                    "if": {"filter_query": '{verdict} = "accepted"', "column_id": "verdict"},
                    "color": "#1e7e34",
                    "fontWeight": "600",
                },
                {
                    "if": {"filter_query": '{verdict} = "refused"', "column_id": "verdict"},
                    "color": "#c82333",
                    "fontWeight": "600",
                },
            ],
        )
        options = [{"label": f"{c.run_id} ({verdict_text(c)})", "value": c.run_id} for c in cands]
        return view, options, cands[0].run_id

    @app.callback(
        Output("dispatch-verdict", "children"),
        Output("dispatch-send", "disabled"),
        Output("dispatch-gantt", "figure"),
        Output("dispatch-result", "children", allow_duplicate=True),
        Input("dispatch-choose", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def choose(run_id: str | None) -> tuple[Any, ...]:
        if not run_id:
            return [], True, empty_figure("Choose a schedule", 260), []
        cand = next((c for c in services.candidates() if c.run_id == run_id), None)
        if cand is None:
            return message(f"Run {run_id} is no longer a candidate."), True, empty_figure("", 260), []
        epoch = services.plant().epoch
        cols = ["order_id", "operation", "station", "machine", "start", "end"]
        ops = pd.DataFrame([{c: getattr(o, c) for c in cols} for o in cand.schedule.operations], columns=cols)
        gantt = gantt_figure([("Plan", ops)], epoch, f"Plan {run_id}")
        v = cand.verdict
        if v is None:
            return (
                message("Not checked by the simulator: it cannot be dispatched until it is.", "warning"),
                True,
                gantt,
                [],
            )
        head = (
            f"Accepted: {v.replications} replications (seed {v.seed}); every order on time in at least "
            f"{v.policy.min_on_time:.0%} of them"
            if v.accepted
            else "Refused by the simulator"
        )
        parts: list[Any] = [html.Strong(head, id="dispatch-verdict-head")]
        if v.reasons:
            parts.append(reasons_list(v.reasons, list_id="dispatch-reasons"))
        alert = dbc.Alert(parts, color="success" if v.accepted else "danger", className="py-2 mt-2")
        orders = pd.DataFrame(
            [
                {
                    "order_id": o.order_id,
                    "due": fmt_time(o.due, epoch),
                    "planned": fmt_time(o.planned_completion, epoch),
                    "p": o.on_time_probability,
                    "on_time": f"{o.on_time_probability:.0%} ({o.ci_low:.0%}-{o.ci_high:.0%})",
                    "lateness": f"{o.mean_lateness / 60:.0f}",
                }
                for o in v.orders
            ]
        )
        detail = (
            table(
                "dispatch-orders",
                orders.sort_values("p"),
                columns=[
                    ("order_id", "Order"),
                    ("due", "Due"),
                    ("planned", "Planned completion"),
                    ("on_time", "On-time probability (95 % CI)"),
                    ("lateness", "Mean lateness (min)"),
                ],
                page_size=8,
            )
            if not orders.empty
            else html.Div()
        )
        return [alert, section("Orders", detail)], not v.accepted, gantt, []

    @app.callback(
        Output("dispatch-result", "children"),
        Input("dispatch-send", "n_clicks"),
        State("dispatch-choose", "value"),
        prevent_initial_call=True,
    )
    def send(_n: int | None, run_id: str | None) -> Any:
        if not run_id:
            return no_update
        outcome = services.dispatch(run_id)
        return dbc.Alert(
            outcome.message,
            color="success" if outcome.ok else "danger",
            className="py-2 mt-2",
            id="dispatch-outcome",
        )
