"""Figures of the fidelity page (pure: frames in, figures out)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures import _base_layout, empty_figure
from twin.fidelity import ALL, NOMINAL


def score_over_time_figure(scores: pd.DataFrame) -> go.Figure:
    """Coverage of each recorded score over time, with the nominal 80 % line."""
    if scores.empty:
        return empty_figure("No accuracy score yet: run 'plantwin fidelity' once actuals follow a plan.")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=scores["created"],
            y=scores["coverage"],
            mode="lines+markers",
            name="coverage",
            customdata=scores[["run_id", "cells", "bias_h", "brier"]].to_numpy(),
            hovertemplate="%{y:.0%} of %{customdata[1]} station-hours"
            "<br>completion bias %{customdata[2]:+.2f} h<br>Brier %{customdata[3]:.3f}"
            "<br>%{customdata[0]}<extra></extra>",
        )
    )
    fig.add_hline(y=NOMINAL, line_dash="dash", annotation_text="nominal 80 %", line_color="#2ca02c")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title="inside P10-P90")
    return _base_layout(fig, "Coverage of the actual output by the simulated band", 320)


def misses_figure(misses: pd.DataFrame, limit: int = 15) -> go.Figure:
    """Coverage per station and product of one score, the worst first (where the model misses)."""
    if misses.empty:
        return empty_figure("This score has no station-hours to show.")
    worst = misses.sort_values("coverage").head(limit).iloc[::-1]
    labels = [
        f"{s} / {'all products' if p == ALL else p}"
        for s, p in zip(worst["station"], worst["product"], strict=True)
    ]
    colours = [
        "#d62728" if c < NOMINAL - 0.15 else "#ff7f0e" if c < NOMINAL - 0.05 else "#2ca02c"
        for c in worst["coverage"]
    ]
    fig = go.Figure(
        go.Bar(
            x=worst["coverage"],
            y=labels,
            orientation="h",
            marker_color=colours,
            customdata=worst["cells"],
            hovertemplate="%{x:.0%} of %{customdata} station-hours<extra></extra>",
        )
    )
    fig.add_vline(x=NOMINAL, line_dash="dash", line_color="#2ca02c")
    fig.update_xaxes(range=[0, 1.02], tickformat=".0%")
    return _base_layout(
        fig, "Where the prediction misses (coverage per station and product)", 40 + 26 * len(worst) + 80
    )
