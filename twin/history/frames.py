"""Input frames the store accepts: their exact columns and Arrow types, and the conversion.

Writers hand over pandas DataFrames (or Arrow tables); each is checked for exactly these
columns and cast once to Arrow, then inserted in bulk (never row by row).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from twin.errors import HistoryError

_TS = pa.timestamp("us", tz="UTC")

SIM_OPERATIONS = pa.schema(
    [
        ("replication", pa.int32()),
        ("order_id", pa.string()),
        ("op_index", pa.int32()),
        ("operation", pa.string()),
        ("station", pa.string()),
        ("machine", pa.int32()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("setup", pa.float64()),
        ("quantity", pa.int32()),
        ("good", pa.int32()),
        ("scrap", pa.int32()),
    ]
)
SIM_ORDERS = pa.schema(
    [
        ("replication", pa.int32()),
        ("order_id", pa.string()),
        ("product", pa.string()),
        ("quantity", pa.int32()),
        ("release", pa.float64()),
        ("due", pa.float64()),
        ("completion", pa.float64()),
        ("lateness", pa.float64()),
        ("tardiness", pa.float64()),
        ("on_time", pa.bool_()),
    ]
)
SIM_STATES = pa.schema(
    [
        ("replication", pa.int32()),
        ("station", pa.string()),
        ("machine", pa.int32()),
        ("state", pa.string()),
        ("start", pa.float64()),
        ("end", pa.float64()),
    ]
)
ACTUAL_VALUES = pa.schema(
    [
        ("time", pa.float64()),
        ("source_time", _TS),
        ("server_time", _TS),
        ("node_id", pa.string()),
        ("station", pa.string()),
        ("tag", pa.string()),
        ("value", pa.float64()),
        ("value_text", pa.string()),
        ("status_code", pa.int64()),
        ("status", pa.string()),
    ]
)
ACTUAL_EVENTS = pa.schema(
    [
        ("time", pa.float64()),
        ("station", pa.string()),
        ("machine", pa.int32()),
        ("kind", pa.string()),
        ("order_id", pa.string()),
        ("operation", pa.string()),
        ("quantity", pa.int32()),
        ("state", pa.string()),
    ]
)
EVENT_KINDS = ("produced", "scrapped", "state", "order_started", "order_finished")
_EVENT_KINDS = pa.array(EVENT_KINDS)


def to_arrow(frame: pd.DataFrame | pa.Table, schema: pa.Schema, what: str) -> pa.Table:
    """`frame` as an Arrow table with exactly `schema`'s columns, in its order and types.

    Raises:
        HistoryError: a column is missing or extra, or a value does not fit its type.
    """
    names = list(frame.column_names) if isinstance(frame, pa.Table) else [str(c) for c in frame.columns]
    missing = [n for n in schema.names if n not in names]
    extra = [n for n in names if n not in schema.names]
    if missing or extra:
        raise HistoryError(
            f"{what}: columns must be exactly {', '.join(schema.names)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else "")
        )
    try:
        if isinstance(frame, pa.Table):
            return frame.select(schema.names).cast(schema)
        # one thread for small frames: the default thread pool costs ~3 ms per call, 7x the
        # conversion of 1000 rows; large frames gain from it
        threads = 1 if len(frame) < 100_000 else None
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False, nthreads=threads)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as exc:
        raise HistoryError(f"{what}: a value does not fit the column types: {exc}") from exc


def check_events(table: pa.Table) -> None:
    """Every event kind is one of EVENT_KINDS and every quantity is set.

    Raises:
        HistoryError: naming the first offending value.
    """
    kinds = table.column("kind")
    ok = pc.is_in(kinds, value_set=_EVENT_KINDS)
    if not pc.all(pc.fill_null(ok, False)).as_py():
        bad = pc.filter(kinds, pc.invert(pc.fill_null(ok, False)))[0].as_py()
        raise HistoryError(f"actual events: kind {bad!r} is not one of {', '.join(EVENT_KINDS)}")
    for name in ("time", "station", "quantity"):
        if table.column(name).null_count:
            raise HistoryError(f"actual events: column {name} has missing values")
