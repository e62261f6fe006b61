"""`plantwin calibrate`: re-fit a plant file from the floor's recorded actuals."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from plantwin.calibrating import calibrate as run_calibration
from plantwin.calibrating import calibrated_text, write_atomically
from plantwin.common import emit_json, err_console, open_plant, out_console, report_errors
from plantwin.demo.performance import parse_bound
from plantwin.recording import DbOption, open_history_reader
from twin.errors import InputError, Issue
from twin.timeutil import format_duration


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


def _bound(text: str | None, plant, option: str) -> float | None:  # type: ignore[no-untyped-def]
    if text is None:
        return None
    try:
        return parse_bound(text, plant, option)
    except ValueError:
        raise InputError(Issue(f"expected an ISO datetime or plant seconds, got {text!r}", option)) from None


def _show(value: float | None, path: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    if path.endswith(".yield"):
        return f"{value:.4f}"
    return format_duration(value) if value >= 60 else f"{value:.3g}s"


@report_errors
def calibrate(
    plant: Annotated[str, typer.Argument(help="Plant YAML file (or a shipped sample name) to calibrate.")],
    out: Annotated[Path, typer.Option("--out", help="Write the calibrated plant file here.")],
    db: DbOption = None,
    since: Annotated[
        str | None, typer.Option(help="Actuals from this plant time: ISO datetime or plant seconds.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Actuals up to (excluding) this plant time.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Fit processing times, MTBF/MTTR, yields and setups from the recorded actuals; write the
    plant file with only the values the floor contradicts replaced (comments and layout kept)."""
    model, path, _ = open_plant(plant, warn=not json_out)
    start, end = _bound(since, model, "--since"), _bound(until, model, "--until")
    if start is not None and end is not None and end <= start:
        raise InputError(Issue(f"--until ({until}) is not after --since ({since})", "--until"))
    if out.exists() and out.resolve() == path.resolve():
        raise InputError(Issue("--out must not be the plant file itself (keep the old one)", str(out)))
    with open_history_reader(db) as store:
        cal = run_calibration(store, model, path, start, end)
    text = calibrated_text(path.read_text(encoding="utf-8"), model, path, cal, out)
    write_atomically(out, text)
    if json_out:
        emit_json({**cal.to_dict(), "out": str(out)})
        return
    table = Table(title=f"calibration of {model.name}: {cal.start_iso} .. {cal.end_iso}")
    table.add_column("parameter", no_wrap=True)
    for col in ("old", "new", "95 % interval", "samples", "decision"):
        table.add_column(col)
    for f in cal.fits:
        interval = "-" if f.low is None else f"{_show(f.low, f.path)} .. {_show(f.high, f.path)}"
        table.add_row(
            f.path,
            _show(f.old, f.path),
            _show(f.new, f.path) + (f" ({f.kind})" if f.new is not None and f.kind else ""),
            interval,
            str(f.samples),
            f.note,
            style="bold" if f.changed else None,
        )
    out_console.print(table)
    runs = ", ".join(cal.runs) or "none recorded"
    out_console.print(f"evidence: actuals {cal.start_iso} .. {cal.end_iso}; floor runs: {runs}", markup=False)
    for note in cal.notes:
        err_console.print(f"plantwin: note: {note}", markup=False)
    out_console.print(f"{len(cal.changed)} value(s) changed; wrote {out}", markup=False)
