"""`plantwin fidelity`: score the twin's predictions against what the floor then did."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from plantwin.common import emit_json, err_console, out_console, report_errors
from plantwin.recording import DbOption, history_path, open_history_reader, started_by
from plantwin.scoring import ScoredPrediction, record_score, score_prediction
from twin.errors import HistoryError, HistoryLockedError, InputError, Issue
from twin.fidelity import ALL, NOMINAL
from twin.history import fidelity as reads
from twin.history.codec import since_time
from twin.history.store import HistoryStore


def register(app: typer.Typer) -> None:
    app.command("fidelity")(fidelity)


@contextmanager
def _store(db: str | None) -> Iterator[tuple[HistoryStore, bool]]:
    """The history read-write (scores are kept), else read-only through a service's snapshot."""
    path = history_path(db)
    if not path.is_file():
        raise HistoryError(f"{path}: no history yet (nothing has been recorded; or pass --db FILE)")
    try:
        store = HistoryStore(path)
    except HistoryLockedError:
        with open_history_reader(db) as reader:
            err_console.print(
                "plantwin: note: the score is not kept (a service holds the history)", markup=False
            )
            yield reader, False
        return
    try:
        yield store, True
    finally:
        store.close()


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.0%}"


def _hours(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x / 3600:+.2f} h"


@report_errors
def fidelity(
    db: DbOption = None,
    plan: Annotated[
        str | None, typer.Option(help="Score this plan run (its newest simulation) or simulation run.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Score every prediction made since an ISO time or an age ('2h', '7d').")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Coverage of the actual output by the simulated P10-P90 band, completion-time bias and MAE,
    Brier score of on-time probabilities; each score is kept in the history."""
    from datetime import UTC, datetime

    with _store(db) as (store, writable):
        if plan is not None:
            ref = store.resolve_run(plan)
            sim = reads.latest_prediction_of(store, ref)
            if sim is None:
                raise InputError(
                    Issue(f"run {ref} is no simulation with replications and has none under it", "--plan")
                )
            targets = [sim]
        else:
            moment = since_time(since, datetime.now(UTC)) if since is not None else None
            preds = reads.predictions(store, moment)
            if preds.empty:
                raise InputError(
                    Issue("no prediction (simulation run with replications) in the history", store.path)
                )
            targets = list(preds["id"]) if since is not None else [str(preds["id"].iloc[-1])]
        scored: list[tuple[ScoredPrediction, str | None]] = []
        skipped: list[str] = []
        for sim in targets:
            try:
                result = score_prediction(store, sim)
            except InputError as exc:
                if plan is not None:
                    raise
                skipped.append(f"{sim}: {exc.issues[0].message}")
                continue
            run_id = record_score(store, result, started_by("fidelity")) if writable else None
            scored.append((result, run_id))
        where = store.path
    if json_out:
        emit_json(
            {
                "db": where,
                "stored": writable,
                "nominal_coverage": NOMINAL,
                "scores": [{"run_id": rid, **s.to_dict()} for s, rid in scored],
                "skipped": skipped,
            }
        )
        return
    for note in skipped:
        err_console.print(f"plantwin: note: not scored: {note}", markup=False)
    for s, rid in scored:
        f = s.score
        hours = f"{f.start / 3600:.1f}-{f.end / 3600:.1f}"
        mae = _hours(f.completion_mae).lstrip("+")
        out_console.print(
            f"prediction {s.simulation} (plan {s.plan or '-'}), plant hours {hours}: coverage "
            f"{_pct(f.coverage)} of {f.cells} station-hours (nominal {NOMINAL:.0%}); completion bias "
            f"{_hours(f.completion_bias)}, MAE {mae} over {f.completed} order(s); Brier "
            f"{f.brier:.3f} over {f.brier_orders} order(s)" + (f"; kept as {rid}" if rid else ""),
            markup=False,
        )
        table = Table(title="where the prediction misses (lowest coverage first)")
        for col in ("station", "product", "coverage", "station-hours"):
            table.add_column(col)
        for (st, pr), (v, n) in sorted(f.by_station_product.items(), key=lambda kv: kv[1][0])[:10]:
            table.add_row(st, "all" if pr == ALL else pr, _pct(v), str(n))
        out_console.print(table)
