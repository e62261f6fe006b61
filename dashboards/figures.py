"""Figures as pure functions: plain data in, a plotly figure out (tested without a browser).

Times arrive as plant seconds and are drawn as plant-local wall time (the epoch's zone), so
a planner reads the same clock as the shift calendar. Every axis is titled with its unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from twin.spc import RULE_DESCRIPTIONS, IndividualsChart, RuleViolation, XbarRChart
from twin.states import PACKML_COLOURS, MachineState

TIME_AXIS = "Time (plant local)"
LAYER_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2")
_FONT = {"size": 13}


def wall_time(seconds: float, epoch: datetime) -> datetime:
    """Plant seconds as a naive plant-local datetime (plotly draws naive datetimes as they are)."""
    return (epoch + timedelta(seconds=float(seconds))).replace(tzinfo=None)


def wall_times(seconds: pd.Series, epoch: datetime) -> pd.Series:
    """Vectorised `wall_time`."""
    base = pd.Timestamp(epoch.replace(tzinfo=None))
    return base + pd.to_timedelta(seconds.astype(float), unit="s")


def state_colour(state: str) -> str:
    """The PackML colour of a state name (grey for a name we do not know)."""
    try:
        return PACKML_COLOURS[MachineState(state)]
    except ValueError:
        return "#7f7f7f"


def _base_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"},
        height=height,
        margin={"l": 70, "r": 20, "t": 50, "b": 50},
        font=_FONT,
        template="plotly_white",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
    )
    return fig


def empty_figure(message: str, height: int = 320) -> go.Figure:
    """A blank figure that says why it is blank (no data yet, nothing selected)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 15, "color": "#555"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, "", height)


def oee_figure(df: pd.DataFrame, title: str = "OEE this shift") -> go.Figure:
    """Grouped bars per station: availability, performance, quality and OEE in percent.

    `df` columns: station, availability, performance, quality, oee (fractions, NaN = undefined).
    """
    if df.empty:
        return empty_figure("No production recorded in this shift yet")
    fig = go.Figure()
    parts = [
        ("availability", "Availability", "#4c78a8"),
        ("performance", "Performance", "#72b7b2"),
        ("quality", "Quality", "#54a24b"),
        ("oee", "OEE", "#e45756"),
    ]
    for col, name, colour in parts:
        pct = df[col].astype(float) * 100.0
        fig.add_bar(
            x=df["station"],
            y=pct,
            name=name,
            marker_color=colour,
            text=[f"{v:.0f}" if pd.notna(v) else "" for v in pct],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1f} %<extra>" + name + "</extra>",
        )
    fig.update_layout(barmode="group", uniformtext={"minsize": 9, "mode": "hide"})
    fig.update_yaxes(title_text="Percent (%)", range=[0, 115])
    fig.update_xaxes(title_text="Station")
    return _base_layout(fig, title, 340)


def gantt_figure(
    layers: Sequence[tuple[str, pd.DataFrame]],
    epoch: datetime,
    title: str = "Schedule",
    now: float | None = None,
) -> go.Figure:
    """Bars per machine over time, one colour per layer (plan / actual, baseline / variant).

    Each layer's DataFrame has columns: order_id, operation, station, machine, start, end
    (plant seconds), and optionally product. Layers are drawn side by side on each machine row.
    """
    rows = [df for _, df in layers if not df.empty]
    if not rows:
        return empty_figure("No operations in this window")
    machines = sorted(
        {f"{s}/{int(m)}" for df in rows for s, m in zip(df["station"], df["machine"], strict=True)}
    )
    fig = go.Figure()
    for i, (name, df) in enumerate(layers):
        if df.empty:
            continue
        starts = wall_times(df["start"], epoch)
        duration_ms = (df["end"].astype(float) - df["start"].astype(float)) * 1000.0
        product = df["product"] if "product" in df else pd.Series([""] * len(df), index=df.index)
        fig.add_bar(
            name=name,
            orientation="h",
            y=[f"{s}/{int(m)}" for s, m in zip(df["station"], df["machine"], strict=True)],
            base=starts.dt.strftime("%Y-%m-%d %H:%M:%S"),
            x=duration_ms,
            offsetgroup=str(i),
            marker={"color": LAYER_COLOURS[i % len(LAYER_COLOURS)], "line": {"width": 0.5, "color": "white"}},
            customdata=list(
                zip(df["order_id"], df["operation"], product, starts.dt.strftime("%a %H:%M"), strict=True)
            ),
            hovertemplate=(
                name + "<br>order %{customdata[0]} (%{customdata[2]})<br>"
                "operation %{customdata[1]}<br>start %{customdata[3]}<extra></extra>"
            ),
        )
    if now is not None:
        fig.add_vline(x=wall_time(now, epoch), line={"color": "#d62728", "dash": "dot", "width": 2})
    # legend in the middle (set after the base layout): the title holds the left, the tool bar the right
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_xaxes(type="date", title_text=TIME_AXIS)
    fig.update_yaxes(
        title_text="Machine (station/index)",
        categoryorder="array",
        categoryarray=list(reversed(machines)),
        type="category",
    )
    height = max(320, min(900, 90 + 28 * len(machines)))
    fig = _base_layout(fig, title, height)
    fig.update_layout(legend={"xanchor": "center", "x": 0.5})
    return fig


def output_figure(
    df: pd.DataFrame, epoch: datetime, title: str = "Cumulative output", unit: str = "pcs"
) -> go.Figure:
    """Planned, simulated (median with a P10-P90 band) and actual cumulative output over time.

    `df` columns: time (plant seconds), planned, sim_p10, sim_p50, sim_p90, actual, already
    filtered to one key (or summed over keys).
    """
    if df.empty:
        return empty_figure("No planned or actual output in this window")
    t = wall_times(df["time"], epoch)
    fig = go.Figure()
    has_sim = df["sim_p50"].notna().any()
    if has_sim:
        fig.add_scatter(
            x=t, y=df["sim_p90"], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
        )
        fig.add_scatter(
            x=t,
            y=df["sim_p10"],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(76,120,168,0.22)",
            name="Simulated P10-P90",
        )
        fig.add_scatter(
            x=t, y=df["sim_p50"], mode="lines", line={"color": "#4c78a8", "width": 2}, name="Simulated median"
        )
    fig.add_scatter(
        x=t, y=df["planned"], mode="lines", line={"color": "#555", "dash": "dash", "width": 2}, name="Planned"
    )
    if df["actual"].notna().any():
        fig.add_scatter(
            x=t, y=df["actual"], mode="lines", line={"color": "#f58518", "width": 3}, name="Actual"
        )
    fig.update_xaxes(title_text=TIME_AXIS)
    fig.update_yaxes(title_text=f"Cumulative good output ({unit})", rangemode="tozero")
    return _base_layout(fig, title, 360)


def output_for_key(df: pd.DataFrame, key: str | None) -> pd.DataFrame:
    """One key's curves, or the sum over keys when `key` is None (quantiles summed: an approximation
    of the total's band, stated in the page)."""
    cols = ["planned", "sim_p10", "sim_p50", "sim_p90", "actual"]
    if df.empty:
        return pd.DataFrame(columns=["time", *cols])
    if key is not None:
        return df[df["key"] == key].sort_values("time").reset_index(drop=True)
    return (
        df.groupby("time", as_index=False)[cols].sum(min_count=1).sort_values("time").reset_index(drop=True)
    )


def control_chart_figure(
    times: Sequence[float],
    values: Sequence[float],
    chart: IndividualsChart | XbarRChart,
    violations: Sequence[RuleViolation],
    epoch: datetime,
    *,
    name: str,
    unit: str,
    spec: tuple[float | None, float | None] = (None, None),
) -> go.Figure:
    """A control chart (I-MR or X-bar/R): the statistic with centre and 3-sigma limits, the rule
    violations marked, and the dispersion chart below.

    For X-bar/R, `times` are the subgroup times (one per subgroup) and `values` are ignored in
    favour of the chart's subgroup means.
    """
    x = [wall_time(t, epoch) for t in times]
    if isinstance(chart, XbarRChart):
        stat, disp, limits, dlimits = list(chart.means), list(chart.ranges), chart.xbar, chart.range
        top, bottom = f"Subgroup mean ({unit})", f"Range ({unit})"
    else:
        stat, disp, limits, dlimits = (
            list(values),
            list(chart.moving_ranges),
            chart.individuals,
            chart.moving_range,
        )
        top, bottom = f"{name} ({unit})", f"Moving range ({unit})"
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    fig.add_scatter(
        x=x, y=stat, mode="lines+markers", name=top, marker={"size": 5, "color": "#4c78a8"}, row=1, col=1
    )
    for y, label, dash in (
        (limits.ucl, "UCL", "dash"),
        (limits.centre, "CL", "solid"),
        (limits.lcl, "LCL", "dash"),
    ):
        fig.add_hline(
            y=y,
            line={"color": "#d62728" if label != "CL" else "#2ca02c", "dash": dash, "width": 1.5},
            annotation_text=f"{label} {y:.4g}",
            annotation_position="right",
            row=1,
            col=1,
        )
    for y, label in ((spec[0], "LSL"), (spec[1], "USL")):
        if y is not None:
            fig.add_hline(
                y=y,
                line={"color": "#7f7f7f", "dash": "dot", "width": 1},
                annotation_text=f"{label} {y:.4g}",
                annotation_position="top left",
                row=1,
                col=1,
            )
    by_point: dict[int, list[str]] = {}
    for v in violations:
        by_point.setdefault(v.index, []).append(v.rule)
    if by_point:
        idx = sorted(by_point)
        fig.add_scatter(
            x=[x[i] for i in idx],
            y=[stat[i] for i in idx],
            mode="markers",
            name="Rule violation",
            marker={"size": 11, "color": "#d62728", "symbol": "x"},
            text=[", ".join(f"{r} ({RULE_DESCRIPTIONS[r]})" for r in by_point[i]) for i in idx],
            hovertemplate="%{text}<extra></extra>",
            row=1,
            col=1,
        )
    fig.add_scatter(
        x=x, y=disp, mode="lines+markers", name=bottom, marker={"size": 4, "color": "#72b7b2"}, row=2, col=1
    )
    fig.add_hline(y=dlimits.ucl, line={"color": "#d62728", "dash": "dash", "width": 1.2}, row=2, col=1)
    fig.add_hline(y=dlimits.centre, line={"color": "#2ca02c", "width": 1.2}, row=2, col=1)
    fig.update_yaxes(title_text=top, row=1, col=1)
    fig.update_yaxes(title_text=bottom, row=2, col=1, rangemode="tozero")
    fig.update_xaxes(title_text=TIME_AXIS, row=2, col=1)
    fig = _base_layout(
        fig, f"{name}: {'X-bar / R' if isinstance(chart, XbarRChart) else 'individuals / moving range'}", 520
    )
    fig.update_layout(margin={"l": 70, "r": 90, "t": 60, "b": 50})
    return fig
