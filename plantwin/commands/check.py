"""`plantwin check` and `plantwin samples`: validate a plant and report its capacity."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from plantwin.common import emit_json, open_orders, open_plant, out_console, report_errors
from twin.capacity import CapacityReport, capacity_for_orders, capacity_for_stream
from twin.samples import list_samples
from twin.timeutil import format_duration


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("samples")(samples)


@report_errors
def check(
    plant: Annotated[str, typer.Argument(help="Plant YAML file, or a shipped sample name.")],
    orders: Annotated[
        str | None, typer.Option(help="Order book (.csv or .json); default: the plant's own.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate a plant (and an order book) and print a summary and the capacity report."""
    model, path, warnings = open_plant(plant, warn=not json_out)
    book = open_orders(model, path, orders)
    report: CapacityReport | None = None
    basis = None
    if book:
        report, basis = capacity_for_orders(model, book), "orders"
    elif model.order_stream is not None:
        report, basis = capacity_for_stream(model), "order_stream"
    summary = {
        "plant": model.name,
        "file": str(path),
        "content_hash": model.content_hash(),
        "site": model.site,
        "lines": [
            {
                "id": ln.id,
                "area": ln.area,
                "calendar": ln.calendar,
                "stations": [s.id for s in ln.stations],
            }
            for ln in model.lines
        ],
        "stations": len(model.stations),
        "machines": sum(s.machines for s in model.stations),
        "products": [p.id for p in model.products],
        "calendars": sorted(model.calendars),
        "resources": {r.id: r.capacity for r in model.resources},
        "materials": {m.id: m.stock for m in model.materials},
        "orders": len(book) if book else 0,
        "warnings": [str(w) for w in warnings],
        "capacity": ({"basis": basis, **report.to_dict()} if report else None),
    }
    if json_out:
        emit_json(summary)
        return
    out_console.print(  # soft_wrap: a pipe gets whole lines, not lines cut at 80 columns
        f"[bold]{model.name}[/] ({escape(str(path))}): {len(model.lines)} lines, "
        f"{summary['stations']} stations, "
        f"{summary['machines']} machines, {len(model.products)} products, "
        f"calendars: {escape(', '.join(summary['calendars'])) or 'none (always working)'}",
        soft_wrap=True,
    )
    if book:
        out_console.print(f"{len(book)} orders, {sum(o.quantity for o in book)} units", soft_wrap=True)
    if report is None:
        out_console.print("No order book or order stream: no capacity report.")
        return
    table = Table(title=f"Capacity ({basis}, window {format_duration(report.window[1] - report.window[0])})")
    for col in ("station", "machines", "demand", "available", "load"):
        table.add_column(col, justify="right" if col != "station" else "left")
    bottleneck = report.bottleneck.station
    for s in report.stations:
        style = "bold red" if s.station == bottleneck else ""
        table.add_row(
            s.station,
            str(s.machines),
            format_duration(s.demand),
            format_duration(s.available),
            f"{s.load:.0%}",
            style=style,
        )
    out_console.print(table)
    out_console.print(f"Bottleneck: [bold]{bottleneck}[/] at {report.bottleneck.load:.0%} load")


@report_errors
def samples(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the shipped sample plants and the path of each file."""
    found = {name: str(path) for name, path in list_samples().items()}
    if json_out:
        emit_json({"samples": found})
        return
    for name, path in found.items():
        out_console.print(f"{name:12s} {path}", highlight=False)
