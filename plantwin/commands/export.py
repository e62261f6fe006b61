"""`plantwin export actuals`: production performance per order for the ERP (ISA-95), from the history."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from plantwin.common import err_console, report_errors
from plantwin.demo.performance import parse_bound, production_performance, to_json, to_rows
from plantwin.recording import DbOption, open_history_reader
from twin.errors import InputError, Issue

export_app = typer.Typer(
    help="Export from the history for other systems (ERP feedback).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


@export_app.command("actuals")
@report_errors
def actuals(
    since: Annotated[
        str, typer.Option(help="From this plant time: ISO datetime (naive = plant zone) or plant seconds.")
    ],
    until: Annotated[
        str | None, typer.Option(help="Up to (excluding) this plant time; default: all.")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    db: DbOption = None,
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: stdout).")] = None,
) -> None:
    """Per order: produced and scrapped quantities, start and completion times, consumed materials."""
    if format not in ("csv", "json"):
        raise InputError(Issue(f"expected csv or json, got {format!r}", "--format"))
    with open_history_reader(db) as store:
        plant = store.latest_plant()
        if plant is None:
            raise InputError(
                Issue("the history holds no plant: nothing was recorded from a floor", str(store.path))
            )
        bounds = []
        for text, option in ((since, "--since"), (until, "--until")):
            try:
                bounds.append(parse_bound(text, plant, option) if text is not None else None)
            except ValueError:
                raise InputError(
                    Issue(f"expected an ISO datetime or plant seconds, got {text!r}", option)
                ) from None
        start, end = bounds
        assert start is not None
        rows = production_performance(store, plant, start, end)
    if format == "json":
        text = json.dumps(to_json(plant, rows, start, end), indent=1) + "\n"
    else:
        buf = io.StringIO()
        header, body = to_rows(plant, rows)
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
        text = buf.getvalue()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"plantwin: wrote {len(rows)} order(s) to {out}", highlight=False, markup=False)
