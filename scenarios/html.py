"""A standalone HTML report of a what-if run (plotly figures embedded; opens without a server)."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go
import plotly.io as pio

from scenarios.report import KpiComparison, ScenarioReport, SweepReport, VariantReport
from twin.kpi import KPIS, KpiRegistry
from twin.timeutil import format_duration

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.better{color:#137333}.worse{color:#b3261e}
.ok{color:#137333;font-weight:bold}.no{color:#b3261e;font-weight:bold}small{color:#666}
"""


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def comparison_figure(variant: VariantReport, kpis: KpiRegistry = KPIS) -> go.Figure:
    """Paired differences (variant - baseline) per headline KPI of the registry with 95 % CIs,
    relative to the baseline mean."""
    heads = kpis.headline
    rows = [
        c
        for c in variant.comparison
        if c.kpi in heads and c.baseline.mean != 0.0 and math.isfinite(c.baseline.mean)
    ]
    names = [kpis.label(c.kpi) for c in rows]
    rel = [c.difference.mean / abs(c.baseline.mean) for c in rows]
    err_hi = [(c.difference.high - c.difference.mean) / abs(c.baseline.mean) for c in rows]
    err_lo = [(c.difference.mean - c.difference.low) / abs(c.baseline.mean) for c in rows]
    colors = [
        "#137333" if c.verdict == "better" else "#b3261e" if c.verdict == "worse" else "#888" for c in rows
    ]
    fig = go.Figure(
        go.Bar(
            x=rel, y=names, orientation="h", marker_color=colors,
            error_x={"type": "data", "array": err_hi, "arrayminus": err_lo},
        )
    )  # fmt: skip
    fig.update_layout(
        title=f"{variant.name}: change against the baseline (95 % CI of the paired difference)",
        xaxis_tickformat=".0%", height=120 + 28 * len(rows), margin={"l": 160},
    )  # fmt: skip
    return fig


def orders_figure(variant: VariantReport) -> go.Figure:
    """Change of on-time probability per existing order, worst first."""
    rows = [o for o in variant.orders if o.change is not None][:25]
    fig = go.Figure(
        go.Bar(
            x=[o.change for o in rows], y=[o.order_id for o in rows], orientation="h",
            marker_color=["#b3261e" if (o.change or 0) < 0 else "#137333" for o in rows],
        )
    )  # fmt: skip
    fig.update_layout(
        title="Collateral damage: change of on-time probability (worst first)",
        xaxis_tickformat=".0%", yaxis_autorange="reversed", height=140 + 20 * len(rows),
    )  # fmt: skip
    return fig


def sweep_figure(sweep: SweepReport) -> go.Figure:
    """The objective over the grid: a line for one parameter, a heatmap for two."""
    kpi = sweep.objective
    values = [p.kpis[kpi].mean if kpi in p.kpis else None for p in sweep.points]
    if len(sweep.parameters) == 1:
        (name,) = sweep.parameters
        xs = [str(p.values[name]) for p in sweep.points]
        lows = [p.kpis[kpi].low if kpi in p.kpis else None for p in sweep.points]
        highs = [p.kpis[kpi].high if kpi in p.kpis else None for p in sweep.points]
        fig = go.Figure(
            go.Scatter(
                x=xs, y=values, mode="lines+markers",
                error_y={"type": "data", "array": [(h - v) if h is not None and v is not None else 0
                                                   for h, v in zip(highs, values, strict=True)],
                         "arrayminus": [(v - lo) if lo is not None and v is not None else 0
                                        for lo, v in zip(lows, values, strict=True)]},
            )
        )  # fmt: skip
        fig.update_layout(xaxis_title=name, yaxis_title=kpi)
    else:
        a, b = sweep.parameters
        xs = list(dict.fromkeys(str(p.values[a]) for p in sweep.points))
        ys = list(dict.fromkeys(str(p.values[b]) for p in sweep.points))
        z = [[None for _ in xs] for _ in ys]
        for p, v in zip(sweep.points, values, strict=True):
            z[ys.index(str(p.values[b]))][xs.index(str(p.values[a]))] = v
        fig = go.Figure(go.Heatmap(x=xs, y=ys, z=z, colorbar={"title": kpi}))
        fig.update_layout(xaxis_title=a, yaxis_title=b)
    fig.update_layout(title=f"Sweep: {kpi} ({sweep.goal})")
    return fig


def _kpi_tables(rows: tuple[KpiComparison, ...], kpis: KpiRegistry) -> str:
    """The registry's headline KPIs, then the rest folded away."""
    heads = kpis.headline
    head = sorted((c for c in rows if c.kpi in heads), key=lambda c: kpis.headline_rank(c.kpi))
    rest = tuple(c for c in rows if c.kpi not in heads)
    out = _kpi_table(tuple(head), kpis)
    if rest:
        more = _kpi_table(rest, kpis)
        out += f"<details><summary>{len(rest)} more KPIs (per station)</summary>{more}</details>"
    return out


def _reasons(reasons: tuple[str, ...]) -> str:
    if not reasons:
        return ""
    items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
    return f"<details><summary>{len(reasons)} reason(s)</summary><ul>{items}</ul></details>"


def _kpi_table(rows: tuple[KpiComparison, ...], kpis: KpiRegistry) -> str:
    out = [
        "<table><tr><th class=l>KPI</th><th>baseline</th><th>variant</th><th>difference</th>"
        "<th>95 % CI of difference</th><th class=l>effect</th></tr>"
    ]
    for c in rows:
        cls = {"better": "better", "worse": "worse"}.get(c.verdict, "")
        fmt = kpis.format
        direction = f"{c.better} is better" if c.better else "no direction"
        out.append(
            f"<tr><td class=l title='{html.escape(c.kpi)}'>{html.escape(kpis.label(c.kpi))}</td>"
            f"<td>{fmt(c.kpi, c.baseline.mean, '–')}</td><td>{fmt(c.kpi, c.variant.mean, '–')}</td>"
            f"<td>{_diff(kpis, c.kpi, c.difference.mean)}</td>"
            f"<td>[{_diff(kpis, c.kpi, c.difference.low)}, {_diff(kpis, c.kpi, c.difference.high)}]</td>"
            f"<td class='l {cls}'>{c.verdict} <small>({direction})</small></td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _diff(kpis: KpiRegistry, kpi: str, value: float) -> str:
    """A difference in the KPI's format, with its sign (percentage points for shares)."""
    text = kpis.format(kpi, abs(value), "–") if math.isfinite(value) else "–"
    return text if text == "–" else ("-" if value < 0 else "+") + text


def render_html(report: ScenarioReport, kpis: KpiRegistry = KPIS) -> str:
    """The whole report as one HTML document (plotly.js embedded once); names, formats and
    directions of KPIs from the registry `kpis`."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>What-if: {html.escape(report.scenario)}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>What-if: {html.escape(report.scenario)}</h1><p>{html.escape(report.description)}</p>",
        f"<p><small>plant {html.escape(report.plant)} ({report.plant_hash[:12]}), {report.replications} "
        f"replications, seed {report.seed} (common random numbers), {report.seconds:.1f} s; "
        f"source {html.escape(report.source)}</small></p>",
    ]
    b = report.baseline
    parts.append(
        f"<h2>Baseline</h2><p>plan: {b.plan.mode} ({html.escape(b.plan.status)}), planned makespan "
        f"{format_duration(b.plan.makespan) if b.plan.makespan is not None else '–'}; check: "
        f"{_accepted(b.check.accepted)}</p>" + _reasons(b.check.reasons)
    )
    if report.expect is not None:
        met = (
            "<span class=ok>as expected</span>"
            if report.expect_met
            else "<span class=no>not as expected</span>"
        )
        parts.append(f"<p>Expected: <b>{report.expect}</b> — {met}</p>")
    include = True
    for v in report.variants:
        parts.append(f"<h2>Variant: {html.escape(v.name)}</h2>")
        parts.append(
            f"<p>plan: {v.side.plan.mode} ({html.escape(v.side.plan.status)}); "
            f"check: {_accepted(v.side.check.accepted)}; fits: {_accepted(v.fits)}; "
            f"{len(v.moved)} operations moved</p>" + _reasons(v.side.check.reasons)
        )
        if v.infeasible:
            parts.append(f"<p class=no>No plan exists: {html.escape(v.infeasible)}</p>")
        parts.append(_kpi_tables(v.comparison, kpis))
        if v.rush:
            parts.append(
                "<h3>Rush orders</h3><table><tr><th class=l>order</th><th>on-time probability</th></tr>"
            )
            parts.extend(
                f"<tr><td class=l>{html.escape(r.order_id)}</td><td>{_pct(r.variant)}</td></tr>"
                for r in v.rush
            )
            parts.append("</table>")
        parts.append(pio.to_html(comparison_figure(v, kpis), full_html=False, include_plotlyjs=include))
        include = False
        if any(o.change for o in v.orders):
            parts.append(pio.to_html(orders_figure(v), full_html=False, include_plotlyjs=False))
        if v.moved:
            parts.append(
                "<h3>What the planner moved (largest shifts)</h3><table><tr><th class=l>order</th><th>op</th>"
                "<th class=l>from</th><th class=l>to</th><th>shift</th></tr>"
            )
            parts.extend(
                f"<tr><td class=l>{html.escape(m.order_id)}</td><td>{html.escape(m.operation)}</td>"
                f"<td class=l>{html.escape(m.from_machine)}</td><td class=l>{html.escape(m.to_machine)}</td>"
                f"<td>{format_duration(m.shift)}</td></tr>"
                for m in v.moved[:20]
            )
            parts.append("</table>")
    if report.sweep is not None:
        s = report.sweep
        parts.append(f"<h2>Sweep ({html.escape(', '.join(s.parameters))})</h2>")
        if s.best is not None:
            parts.append(
                f"<p>Best by {s.goal} {html.escape(s.objective)}: "
                f"<b>{html.escape(str(s.points[s.best].values))}</b></p>"
            )
        parts.append(pio.to_html(sweep_figure(s), full_html=False, include_plotlyjs=include))
    if report.run_id:
        parts.append(f"<p><small>history run {html.escape(report.run_id)}</small></p>")
    for note in report.notes:
        parts.append(f"<p><small>note: {html.escape(note)}</small></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _accepted(value: bool | None) -> str:
    if value is None:
        return "–"
    return "<span class=ok>yes</span>" if value else "<span class=no>no</span>"
