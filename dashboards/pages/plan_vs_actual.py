"""Plan vs actual (`/plan-vs-actual`): Gantt of the plan against what ran, cumulative output
(planned, simulated median with P10-P90, actual) per station or product, and the orders at risk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboards.components import DashboardConfig, PageContext, fmt_time, message, section, table
from dashboards.figures import empty_figure, gantt_figure, output_figure, output_for_key
from dashboards.services import DashboardServices, RunSummary

PATH = "/plan-vs-actual"
TITLE = "Plan vs actual"
ALL = "__all__"

WINDOWS = {"plan": "Plan horizon", "shift": "Current shift", "day": "Last 24 h"}


def _run_choices(services: DashboardServices | None) -> dict[str, Any]:
    """The plan and simulation pickers, filled when the page is opened (saves two round trips)."""
    if services is None:  # the validation layout: ids only
        return {"plans": [], "plan": None, "sims": [], "sim": None, "parents": []}
    plans = services.list_runs(kind="plan", limit=200)
    sims = services.list_runs(kind="simulation", limit=200)
    plan = plans[0].run_id if plans else None
    return {
        "plans": [{"label": run_label(r), "value": r.run_id} for r in plans],
        "plan": plan,
        "sims": [{"label": run_label(r), "value": r.run_id} for r in sims],
        "sim": next((r.run_id for r in sims if plan is not None and r.parent == plan), None),
        "parents": [[r.run_id, r.parent] for r in sims],
    }


def layout(cfg: DashboardConfig, services: DashboardServices | None = None) -> html.Div:
    """The page; with `services` (when opened) the run pickers come filled with the newest plan."""
    graph_cfg = {"displaylogo": False}
    runs = _run_choices(services)
    return html.Div(
        [
            html.H3("Plan vs actual", className="mt-2"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Plan", html_for="pva-plan"),
                            dcc.Dropdown(
                                id="pva-plan", options=runs["plans"], value=runs["plan"], clearable=False
                            ),
                        ],
                        md=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Simulation", html_for="pva-sim"),
                            dcc.Dropdown(
                                id="pva-sim", options=runs["sims"], value=runs["sim"], placeholder="none"
                            ),
                        ],
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Window"),
                            dbc.RadioItems(
                                id="pva-window",
                                options=[{"label": v, "value": k} for k, v in WINDOWS.items()],
                                value="plan",
                                inline=True,
                            ),
                        ],
                        md=5,
                    ),
                ],
                className="g-2",
            ),
            dcc.Graph(id="pva-gantt", figure=empty_figure("Choose a plan"), config=graph_cfg),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.RadioItems(
                            id="pva-by",
                            options=[
                                {"label": "by product", "value": "product"},
                                {"label": "by station", "value": "station"},
                            ],
                            value="product",
                            inline=True,
                        ),
                        md="auto",
                    ),
                    dbc.Col(
                        dcc.Dropdown(
                            id="pva-key", options=[{"label": "all", "value": ALL}], value=ALL, clearable=False
                        ),
                        md=3,
                    ),
                ],
                className="g-2 align-items-center",
            ),
            dcc.Graph(id="pva-output", figure=empty_figure("Choose a plan"), config=graph_cfg),
            html.Div(
                "The band is the P10-P90 of the simulated replications; summed over all keys it is the sum "
                "of the per-key quantiles (a wider band than the total's own).",
                className="small text-muted",
            ),
            dcc.Store(id="pva-curves"),
            dcc.Store(id="pva-sim-parents", data=runs["parents"]),
            section("Orders at risk", html.Div(id="pva-risk")),
        ]
    )


def run_label(run: RunSummary) -> str:
    """'plan-2026... · greedy · 28.11 11:20' for a run picker."""
    return f"{run.run_id} · {run.label} · {run.created:%d.%m %H:%M}"


def register(app: Dash, ctx: PageContext) -> None:
    services, cfg = ctx.services, ctx.config

    @app.callback(
        Output("pva-sim", "value"),
        Input("pva-plan", "value"),
        State("pva-sim-parents", "data"),
        prevent_initial_call=True,
    )
    def pick_sim(plan: str | None, parents: list[list[str | None]] | None) -> str | None:
        """The newest simulation of the chosen plan, if there is one."""
        return next((sim for sim, parent in parents or [] if plan is not None and parent == plan), None)

    @app.callback(
        Output("pva-gantt", "figure"),
        Output("pva-output", "figure"),
        Output("pva-curves", "data"),
        Output("pva-key", "options"),
        Output("pva-key", "value"),
        Output("pva-risk", "children"),
        Input("pva-plan", "value"),
        Input("pva-sim", "value"),
        Input("pva-window", "value"),
        Input("pva-by", "value"),
        State("pva-key", "value"),
    )
    def show_plan(
        plan: str | None, sim: str | None, window: str, by: str, key: str | None
    ) -> tuple[Any, ...]:
        if not plan:
            none = empty_figure("No plan in the history yet")
            return none, none, None, [{"label": "all", "value": ALL}], ALL, message("No plan yet.")
        plant = services.plant()
        epoch = plant.epoch
        schedule = services.schedule(plan)
        now = services.now()
        if window == "shift":
            shift = services.current_shift(now)
            start, end = shift.start, shift.end
        elif window == "day":
            start, end = now - 86400.0, now
        else:
            start = min((o.start for o in schedule.operations), default=0.0)
            end = max(schedule.makespan, start + 1.0)
        planned = pd.DataFrame(
            [
                {
                    "order_id": o.order_id,
                    "operation": o.operation,
                    "station": o.station,
                    "machine": o.machine,
                    "start": o.start,
                    "end": o.end,
                }
                for o in schedule.operations
                if o.end > start and o.start < end
            ],
            columns=["order_id", "operation", "station", "machine", "start", "end"],
        )
        actual = services.actual_operations(start, end)
        gantt = gantt_figure(
            [("Plan", planned), ("Actual", actual)], epoch, f"Plan {plan} against what ran", now=now
        )
        curves = services.output_curves(plan, sim, start, end, by)
        keys = sorted(curves["key"].dropna().unique()) if not curves.empty else []
        options = [{"label": f"all {by}s", "value": ALL}] + [{"label": str(k), "value": str(k)} for k in keys]
        # keep the chosen key when it still exists (no update: no second round trip for the chart)
        new_key: Any = no_update if key in {o["value"] for o in options} else ALL
        output = _output_chart(curves, new_key if new_key is not no_update else key, by, epoch)
        risk = services.orders_at_risk(plan, cfg.risk_threshold)
        if risk.empty:
            risk_view: Any = message(
                f"No order below {cfg.risk_threshold:.0%} on-time probability"
                + ("" if sim else " (or no verdict yet)."),
                "success",
            )
        else:
            shown = risk.assign(
                due=[fmt_time(v, epoch) for v in risk["due"]],
                planned_completion=[fmt_time(v, epoch) for v in risk["planned_completion"]],
                on_time=[
                    f"{p:.0%} ({lo:.0%}-{hi:.0%})"
                    for p, lo, hi in zip(
                        risk["on_time_probability"], risk["ci_low"], risk["ci_high"], strict=True
                    )
                ],
            )
            risk_view = table(
                "pva-risk-table",
                shown,
                columns=[
                    ("order_id", "Order"),
                    ("product", "Product"),
                    ("due", "Due"),
                    ("planned_completion", "Planned completion"),
                    ("on_time", "On-time probability (95 % CI)"),
                ],
            )
        return gantt, output, curves.to_dict("list"), options, new_key, risk_view

    @app.callback(
        Output("pva-output", "figure", allow_duplicate=True),
        Input("pva-key", "value"),
        State("pva-curves", "data"),
        State("pva-by", "value"),
        prevent_initial_call=True,
    )
    def show_output(key: str | None, data: dict[str, list[Any]] | None, by: str) -> Any:
        if not data:
            return empty_figure("No output to show")
        return _output_chart(pd.DataFrame(data), key, by, services.plant().epoch)


def _output_chart(curves: pd.DataFrame, key: str | None, by: str, epoch: datetime) -> Any:
    """The cumulative output chart of one key (or of all keys summed)."""
    if curves.empty:
        return empty_figure("No planned or actual output in this window")
    curves = curves.copy()
    for col in ("planned", "sim_p10", "sim_p50", "sim_p90", "actual"):
        curves[col] = pd.to_numeric(curves[col], errors="coerce")
    chosen = None if key in (None, ALL) else key
    title = f"Cumulative output, {'all ' + by + 's' if chosen is None else chosen}"
    return output_figure(output_for_key(curves, chosen), epoch, title)
