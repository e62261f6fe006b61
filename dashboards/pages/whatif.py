"""What-if (`/what-if`): run a library scenario or a rush order in the background, then show the
KPI comparison, the verdict and the changed plan; earlier scenario runs are listed from the history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboards.components import (
    DashboardConfig,
    PageContext,
    fmt_value,
    message,
    reasons_list,
    section,
    table,
)
from dashboards.figures import empty_figure, gantt_figure
from dashboards.services import DashboardServices, WhatIfRequest, WhatIfResult
from twin.schedule import Schedule
from twin.timeutil import to_seconds

PATH = "/what-if"
TITLE = "What-if"
DUE_FORMAT = "%Y-%m-%d %H:%M"


def layout(cfg: DashboardConfig, services: DashboardServices | None = None) -> html.Div:
    """The page's components; data arrives through its callbacks."""
    form = dbc.Card(
        dbc.CardBody(
            [
                dbc.RadioItems(
                    id="whatif-mode",
                    options=[
                        {"label": "Library scenario", "value": "library"},
                        {"label": "Rush order", "value": "rush"},
                    ],
                    value="library",
                    inline=True,
                    className="mb-2",
                ),
                html.Div(
                    [
                        dbc.Label("Scenario", html_for="whatif-scenario"),
                        dcc.Dropdown(id="whatif-scenario", clearable=False),
                    ],
                    id="whatif-library-fields",
                ),
                html.Div(
                    dbc.Row(
                        [
                            dbc.Col(
                                [dbc.Label("Product"), dcc.Dropdown(id="whatif-product", clearable=False)],
                                md=4,
                            ),
                            dbc.Col(
                                [
                                    dbc.Label("Quantity (pcs)"),
                                    dbc.Input(id="whatif-quantity", type="number", min=1, step=1, value=20),
                                ],
                                md=3,
                            ),
                            dbc.Col(
                                [
                                    dbc.Label("Due (plant time, YYYY-MM-DD HH:MM)"),
                                    dbc.Input(id="whatif-due", type="text"),
                                ],
                                md=5,
                            ),
                        ],
                        className="g-2",
                    ),
                    id="whatif-rush-fields",
                    style={"display": "none"},
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label("Replications"),
                                dbc.Input(
                                    id="whatif-replications", type="number", min=1, max=200, step=1, value=10
                                ),
                            ],
                            md=3,
                        ),
                        dbc.Col(
                            dbc.Button("Run what-if", id="whatif-run", color="primary", className="mt-4"),
                            md="auto",
                        ),
                    ],
                    className="g-2 mt-1",
                ),
                dbc.Progress(
                    id="whatif-progress", value=0, label="", className="mt-3", style={"height": "1.4rem"}
                ),
                html.Div(id="whatif-status", className="small text-muted mt-1"),
            ]
        )
    )
    return html.Div(
        [
            html.H3("What-if", className="mt-2"),
            form,
            dcc.Store(id="whatif-job"),
            dcc.Interval(id="whatif-poll", interval=cfg.poll_ms, disabled=True),
            html.Div(id="whatif-result"),
            dcc.Graph(
                id="whatif-gantt",
                figure=empty_figure("Run a what-if to see its plan", 260),
                config={"displaylogo": False},
            ),
            section("Earlier scenario runs", html.Div(id="whatif-history")),
        ]
    )


def parse_due(text: str | None, epoch: datetime) -> float:
    """Plant seconds from 'YYYY-MM-DD HH:MM' in plant-local time.

    Raises:
        ValueError: not in that form.
    """
    moment = datetime.strptime((text or "").strip(), DUE_FORMAT)
    return to_seconds(moment.replace(tzinfo=epoch.tzinfo), epoch)


def _ops(schedule: Schedule | None) -> pd.DataFrame:
    cols = ["order_id", "operation", "station", "machine", "start", "end"]
    if schedule is None:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame([{c: getattr(o, c) for c in cols} for o in schedule.operations], columns=cols)


def render_result(result: WhatIfResult, epoch: datetime) -> list[Any]:
    """The comparison table, the verdict and the orders that changed most."""
    out: list[Any] = [html.H5(result.title, className="mt-3", id="whatif-result-title")]
    if result.accepted is not None:
        text = "Accepted by the simulator" if result.accepted else "Refused by the simulator"
        out.append(
            dbc.Alert(
                [html.Strong(text), reasons_list(result.reasons)] if result.reasons else text,
                color="success" if result.accepted else "danger",
                className="py-2",
            )
        )
    cmp = result.comparison.copy()
    arrows = {"higher": "↑ higher", "lower": "↓ lower"}
    cmp["better"] = [arrows.get(b, "–") for b in cmp.get("better", pd.Series([""] * len(cmp)))]
    for col in ("baseline", "variant", "difference"):
        cmp[col] = [fmt_value(v, 4) for v in cmp[col]]
    cmp["ci"] = [
        f"[{fmt_value(lo, 3)}, {fmt_value(hi, 3)}]"
        for lo, hi in zip(result.comparison["ci_low"], result.comparison["ci_high"], strict=True)
    ]
    out.append(
        table(
            "whatif-comparison",
            cmp,
            columns=[
                ("kpi", "KPI"),
                ("unit", "Unit"),
                ("better", "Better"),
                ("baseline", "Baseline"),
                ("variant", "Variant"),
                ("difference", "Difference"),
                ("ci", "95 % CI of difference"),
            ],
            page_size=20,
        )
    )
    if result.order_changes is not None and not result.order_changes.empty:
        ch = result.order_changes.copy()
        # new orders (no baseline) first, then the existing orders whose odds moved most
        ch = ch.assign(_new=ch["baseline"].isna(), _size=ch["change"].abs().fillna(0.0))
        ch = ch.sort_values(["_new", "_size"], ascending=[False, False]).head(10)
        for col in ("baseline", "variant", "change"):
            ch[col] = [
                ("-" if pd.isna(v) else f"{v:+.0%}" if col == "change" else f"{v:.0%}") for v in ch[col]
            ]
        out.append(
            section(
                "Orders whose on-time probability changed most",
                table(
                    "whatif-orders",
                    ch,
                    columns=[
                        ("order_id", "Order"),
                        ("baseline", "Baseline"),
                        ("variant", "Variant"),
                        ("change", "Change"),
                    ],
                ),
            )
        )
    return out


def register(app: Dash, pctx: PageContext) -> None:
    services, jobs = pctx.services, pctx.jobs

    @app.callback(
        Output("whatif-library-fields", "style"),
        Output("whatif-rush-fields", "style"),
        Input("whatif-mode", "value"),
    )
    def toggle(mode: str) -> tuple[dict[str, str], dict[str, str]]:
        return ({}, {"display": "none"}) if mode == "library" else ({"display": "none"}, {})

    @app.callback(
        Output("whatif-scenario", "options"),
        Output("whatif-scenario", "value"),
        Output("whatif-product", "options"),
        Output("whatif-product", "value"),
        Output("whatif-due", "value"),
        Input("whatif-mode", "id"),
    )
    def load_form(_id: str) -> tuple[Any, ...]:
        plant = services.plant()
        library = services.scenario_library()
        scen = [
            {"label": f"{s.name} - {s.description}" if s.description else s.name, "value": s.name}
            for s in library
        ]
        products = [
            {"label": f"{p.id} ({p.name})" if p.name else p.id, "value": p.id} for p in plant.products
        ]
        due = (plant.epoch + timedelta(seconds=services.now() + 2 * 86400)).strftime(DUE_FORMAT)
        return (
            scen,
            (scen[0]["value"] if scen else None),
            products,
            (products[0]["value"] if products else None),
            due,
        )

    @app.callback(
        Output("whatif-job", "data"),
        Output("whatif-poll", "disabled"),
        Output("whatif-run", "disabled"),
        Output("whatif-progress", "value"),
        Output("whatif-progress", "label"),
        Output("whatif-status", "children"),
        Output("whatif-result", "children"),
        Output("whatif-gantt", "figure"),
        Input("whatif-run", "n_clicks"),
        Input("whatif-poll", "n_intervals"),
        State("whatif-job", "data"),
        State("whatif-mode", "value"),
        State("whatif-scenario", "value"),
        State("whatif-product", "value"),
        State("whatif-quantity", "value"),
        State("whatif-due", "value"),
        State("whatif-replications", "value"),
        prevent_initial_call=True,
    )
    def run_or_poll(
        _clicks: int | None,
        _n: int | None,
        job_id: str | None,
        mode: str,
        scenario: str | None,
        product: str | None,
        quantity: int | None,
        due_text: str | None,
        replications: int | None,
    ) -> tuple[Any, ...]:
        keep: Any = no_update
        if ctx.triggered_id == "whatif-run":
            epoch = services.plant().epoch
            reps = int(replications or 10)
            if mode == "library":
                if not scenario:
                    return (keep, True, False, 0, "", "", message("Choose a scenario.", "warning"), keep)
                request = WhatIfRequest(scenario=scenario, replications=reps)
            else:
                try:
                    due = parse_due(due_text, epoch)
                except ValueError:
                    return (
                        keep,
                        True,
                        False,
                        0,
                        "",
                        "",
                        message(
                            f"Due must look like {datetime(2026, 12, 2, 14, 0):{DUE_FORMAT}}.", "warning"
                        ),
                        keep,
                    )
                if not product or not quantity or int(quantity) < 1:
                    return (
                        keep,
                        True,
                        False,
                        0,
                        "",
                        "",
                        message("Choose a product and a quantity of at least 1.", "warning"),
                        keep,
                    )
                request = WhatIfRequest(product=product, quantity=int(quantity), due=due, replications=reps)
            new_id = jobs.submit(request.describe(), lambda progress: services.run_whatif(request, progress))
            return new_id, False, True, 0, "0 %", f"started {request.describe()}", [], keep
        status = jobs.status(job_id) if job_id else None
        if status is None:
            return (
                None,
                True,
                False,
                0,
                "",
                "The job was lost (the server restarted?). Run it again.",
                keep,
                keep,
            )
        pct = round(status.progress * 100)
        if not status.done:
            return keep, False, True, pct, f"{pct} %", status.message, keep, keep
        if status.error:
            return (
                None,
                True,
                False,
                pct,
                "failed",
                "",
                dbc.Alert(status.error, color="danger", id="whatif-error"),
                keep,
            )
        result: WhatIfResult = status.result
        epoch = services.plant().epoch
        gantt = gantt_figure(
            [("Baseline", _ops(result.baseline)), ("Variant", _ops(result.variant))],
            epoch,
            "Baseline and variant plans",
        )
        return (
            None,
            True,
            False,
            100,
            "100 %",
            f"finished: {status.label}",
            render_result(result, epoch),
            gantt,
        )

    @app.callback(Output("whatif-history", "children"), Input("whatif-result", "children"))
    def earlier(_children: Any) -> Any:
        runs = services.list_runs(kind="scenario", limit=20)
        if not runs:
            return message("No scenario runs in the history yet.")
        df = pd.DataFrame(
            [
                {
                    "run_id": r.run_id,
                    "created": r.created.strftime("%Y-%m-%d %H:%M"),
                    "label": r.label,
                    "parent": r.parent or "-",
                }
                for r in runs
            ]
        )
        return table(
            "whatif-runs",
            df,
            columns=[
                ("run_id", "Run"),
                ("created", "Created"),
                ("label", "Scenario"),
                ("parent", "Baseline run"),
            ],
            page_size=8,
        )
