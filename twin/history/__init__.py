"""The history store: DuckDB file of every plan, simulation, scenario, verdict and actual.

`HistoryStore(path)` is the API; docs/history.md describes the schema, the migration policy
and the one-writer pattern.
"""

from twin.history.codec import RUN_KINDS
from twin.history.frames import EVENT_KINDS
from twin.history.publisher import SnapshotPublisher
from twin.history.schema import MIGRATIONS, SCHEMA_VERSION
from twin.history.store import HistoryStore

__all__ = ["EVENT_KINDS", "MIGRATIONS", "RUN_KINDS", "SCHEMA_VERSION", "HistoryStore", "SnapshotPublisher"]
