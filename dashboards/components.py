"""Small layout helpers the pages share: tables from DataFrames, time text, alerts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dash_table, html

from dashboards.figures import wall_time
from dashboards.jobs import JobRunner
from dashboards.services import DashboardServices


@dataclass(frozen=True)
class DashboardConfig:
    """Settings of the pages (not of the plant): refresh rate, alert and risk thresholds."""

    refresh_ms: int = 5000
    """How often the floor page refreshes."""
    behind_threshold: float = 0.10
    """Alert when a station's actual output is more than this fraction behind plan."""
    stale_after: float = 60.0
    """While the connection to the floor is lost, a station quiet for longer than this is marked."""
    risk_threshold: float = 0.9
    """Orders below this simulated on-time probability are listed as at risk."""
    poll_ms: int = 700
    """How often a page polls a running job."""


@dataclass(frozen=True)
class PageContext:
    """What a page's callbacks may use: the services, the job runner, the settings."""

    services: DashboardServices
    jobs: JobRunner
    config: DashboardConfig


def fmt_time(seconds: float | None, epoch: datetime) -> str:
    """Plant seconds as 'Mon 30.11 14:05' plant-local; '-' for none."""
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return "-"
    return wall_time(seconds, epoch).strftime("%a %d.%m %H:%M")


def fmt_value(v: Any, digits: int = 3) -> str:
    """A table cell: numbers to `digits` significant figures, NaN/None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.{digits}g}"
    return str(v)


def table(
    table_id: str,
    df: pd.DataFrame | None = None,
    *,
    columns: list[tuple[str, str]] | None = None,
    page_size: int = 12,
    **kwargs: Any,
) -> dash_table.DataTable:
    """A sortable, readable DataTable; `columns` are (field, header) pairs (default: all fields)."""
    data = [] if df is None else df.to_dict("records")
    cols = columns or ([(c, c) for c in df.columns] if df is not None else [])
    return dash_table.DataTable(
        id=table_id,
        data=data,
        columns=[{"id": f, "name": h} for f, h in cols],
        page_size=page_size,
        sort_action="native",
        style_table={"overflowX": "auto"},
        style_cell={"fontFamily": "inherit", "fontSize": "14px", "padding": "4px 8px", "textAlign": "left"},
        style_header={"fontWeight": "600", "backgroundColor": "#f1f3f5"},
        **kwargs,
    )


def message(text: str, colour: str = "secondary") -> dbc.Alert:
    """An inline note (why something is empty, what went wrong)."""
    return dbc.Alert(text, color=colour, className="py-2 my-2")


def reasons_list(reasons: tuple[str, ...] | list[str], limit: int = 6, list_id: str | None = None) -> html.Ul:
    """The first `limit` reasons as a list, and how many more there are (the table has them all)."""
    items = [html.Li(r) for r in reasons[:limit]]
    if len(reasons) > limit:
        items.append(html.Li(f"... and {len(reasons) - limit} more", className="fst-italic"))
    return html.Ul(items, className="mb-0", **({"id": list_id} if list_id else {}))


def section(title: str, *children: Any) -> html.Div:
    """A titled block of a page."""
    return html.Div([html.H5(title, className="mt-3 mb-2"), *children])
