"""The history store: DuckDB file of every plan, simulation, scenario, verdict and actual.

`HistoryStore(path)` is the API (reads typed in `HistoryReader`, writes in `HistoryWriter`);
docs/history.md describes the read API, the schema, the migration policy and the one-writer
pattern. No SQL outside this package.
"""

from twin.history.codec import RUN_KINDS
from twin.history.floor_log import BookEntry
from twin.history.frames import EVENT_KINDS
from twin.history.publisher import SnapshotPublisher
from twin.history.reader import HistoryReader
from twin.history.records import RunRecord
from twin.history.schema import MIGRATIONS, SCHEMA_VERSION
from twin.history.store import HistoryStore

__all__ = [
    "EVENT_KINDS",
    "MIGRATIONS",
    "RUN_KINDS",
    "SCHEMA_VERSION",
    "BookEntry",
    "HistoryReader",
    "HistoryStore",
    "RunRecord",
    "SnapshotPublisher",
]
