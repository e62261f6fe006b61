"""Floor (`/`): every station's PackML state and for how long, staleness, OEE this shift, WIP, alerts."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dashboards.components import DashboardConfig, PageContext, fmt_time, message, section
from dashboards.figures import empty_figure, oee_figure, state_colour
from dashboards.services import DashboardServices
from twin.live import LiveState, StationLive
from twin.states import MachineState
from twin.timeutil import format_duration

PATH = "/"
TITLE = "Floor"


def layout(cfg: DashboardConfig, services: DashboardServices | None = None) -> html.Div:
    """The page's components; data arrives through its callbacks."""
    return html.Div(
        [
            html.Div(
                [
                    html.H3("Floor", className="me-3 mb-0"),
                    html.Span(id="floor-shift", className="text-muted"),
                ],
                className="d-flex align-items-baseline mt-2",
            ),
            html.Div(id="floor-stale"),
            html.Div(id="floor-stations", className="d-flex flex-wrap gap-2 my-2"),
            dbc.Row(
                [
                    dbc.Col(
                        dcc.Graph(
                            id="floor-oee", figure=empty_figure("Loading ..."), config={"displaylogo": False}
                        ),
                        lg=8,
                    ),
                    dbc.Col(
                        [
                            section("Work in progress", html.Div(id="floor-wip")),
                            section("Alerts", html.Div(id="floor-alerts")),
                        ],
                        lg=4,
                    ),
                ]
            ),
            dcc.Interval(id="floor-refresh", interval=cfg.refresh_ms),
        ]
    )


def station_card(st: StationLive, now: float, stale_after: float, floor_stale: bool = False) -> dbc.Card:
    """One station: name, state on its PackML colour, time in state, counters, staleness.

    OPC UA subscriptions report changes only: a station idle for an hour sends nothing and is
    not stale while the connection is alive (its keep-alive proves that). A card is marked only
    when the floor is stale (connection lost), and then says how long this station has been quiet.
    """
    colour = state_colour(str(st.state))
    heard = st.last_heard
    stale = floor_stale and (heard is None or now - heard > stale_after)
    body = [
        html.Div(st.station, className="fw-semibold"),
        html.Div(
            str(st.state),
            className="station-state rounded px-2 my-1 text-white fw-semibold",
            style={"backgroundColor": colour, "display": "inline-block"},
        ),
        html.Div(f"for {format_duration(max(0.0, now - st.since))}", className="small"),
        html.Div(f"good {st.good_count} · reject {st.reject_count}", className="small text-muted"),
    ]
    if st.current_order:
        body.append(html.Div(f"order {st.current_order}", className="small text-muted"))
    if stale:
        since = f"no data for {format_duration(now - heard)}" if heard is not None else "no data"
        body.append(html.Div(since, className="small fw-semibold text-danger"))
    return dbc.Card(
        dbc.CardBody(body, className="p-2"),
        className="station-card",
        style={"width": "10.5rem", "borderLeft": f"6px solid {colour}", "opacity": 0.6 if stale else 1.0},
    )


def alerts(output: pd.DataFrame, threshold: float) -> list[Any]:
    """Stations whose actual output trails the plan by more than `threshold` (a fraction)."""
    behind = []
    for row in output.itertuples(index=False):
        planned, actual = float(row.planned), float(row.actual)
        if planned > 0 and actual < planned * (1.0 - threshold):
            behind.append((row.station, planned, actual))
    if not behind:
        return [message(f"No station is more than {threshold:.0%} behind plan.", "success")]
    return [
        dbc.Alert(
            f"{s}: {a:.0f} of {p:.0f} planned ({(p - a) / p:.0%} behind)",
            color="warning",
            className="py-1 my-1",
        )
        for s, p, a in sorted(behind, key=lambda b: b[2] / b[1])
    ]


def register(app: Dash, ctx: PageContext) -> None:
    services, cfg = ctx.services, ctx.config

    @app.callback(
        Output("floor-shift", "children"),
        Output("floor-stale", "children"),
        Output("floor-stations", "children"),
        Output("floor-oee", "figure"),
        Output("floor-wip", "children"),
        Output("floor-alerts", "children"),
        Input("floor-refresh", "n_intervals"),
    )
    def refresh(_n: int | None) -> tuple[Any, ...]:
        plant = services.plant()
        now = services.now()
        shift = services.current_shift(now)
        live = services.live_state() or LiveState.empty(now)
        epoch = plant.epoch
        shift_text = f"{shift.name} shift {fmt_time(shift.start, epoch)} - {fmt_time(shift.end, epoch)[-5:]}"
        stale = []
        if live.stale:
            since = fmt_time(live.last_good, epoch) if live.last_good is not None else "unknown"
            stale = [
                dbc.Alert(
                    f"No live data from the floor: last good data {since}. "
                    "The states below are the last recorded.",
                    color="danger",
                    className="py-2",
                )
            ]
        order = [s.id for line in plant.lines for s in line.stations]
        cards = [
            station_card(
                live.stations.get(sid, StationLive(station=sid, state=MachineState.STOPPED)),
                live.time or now,
                cfg.stale_after,
                live.stale,
            )
            for sid in order
        ]
        oee = services.station_oee(shift.start, min(now, shift.end))
        fig = oee_figure(oee, f"OEE per station, {shift.name} shift (so far)")
        wip_ops = len(live.in_progress)
        wip = html.Div(
            [
                html.Span(str(wip_ops), className="display-6 me-2", id="floor-wip-count"),
                html.Span("operations under way"),
            ]
        )
        output = services.output_vs_plan(shift.start, min(now, shift.end))
        return shift_text, stale, cards, fig, wip, alerts(output, cfg.behind_threshold)
