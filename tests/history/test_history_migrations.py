"""Schema versions: a v1 file opens with the current code, migrated forward, its runs intact."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from history_data import events

from twin.errors import HistoryError
from twin.history import MIGRATIONS, SCHEMA_VERSION, HistoryStore
from twin.history.schema import migrate

# A released step is never edited (docs/history.md): its SQL is pinned here.
RELEASED = {
    1: "d2f4680fbcfe0716d775a736d5058f965e3ad95934d3f6e70f624d929b7bde36",
    2: "494b45df267c28389a24948de3326342c22a7731aa8a1ad7d960054101f910c1",
}


def _v1_file(path: Path) -> None:
    """A history file as plantwin wrote it at schema version 1, with one plan run in it."""
    con = duckdb.connect(str(path))
    assert migrate(con, str(path), target=1) == [1]
    con.execute(
        "INSERT INTO runs VALUES ('plan-20260101-000000-aaaaaa', 'plan', '2026-01-01T00:00:00Z', "
        "'plantwin plan (old@host)', 'ok', NULL, NULL, NULL, NULL, '{\"seed\": 3}', '{\"makespan\": 99.5}')"
    )
    con.execute("INSERT INTO schedules VALUES ('plan-20260101-000000-aaaaaa', 'h', '', 'old', '{}', 1)")
    con.execute(
        "INSERT INTO schedule_operations VALUES ('plan-20260101-000000-aaaaaa', 'O1', 0, 'cut', 'A', 0, "
        "0, 10, 1, 1)"
    )
    con.close()


def test_released_steps_are_unchanged_and_numbered_in_order():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    for m in MIGRATIONS:
        if m.version in RELEASED:
            assert m.checksum == RELEASED[m.version], f"migration {m.version} was edited; add a new step"
    assert MIGRATIONS[-1].version == SCHEMA_VERSION


def test_v1_file_opens_with_current_code(tmp_path):
    path = tmp_path / "old.duckdb"
    _v1_file(path)
    assert HistoryStore.file_version(path) == 1
    with HistoryStore(path) as store:
        assert store.migrated == list(range(2, SCHEMA_VERSION + 1))
        assert store.schema_version == SCHEMA_VERSION
        run = store.get_run("plan-20260101-000000-aaaaaa")
        assert run["params"] == {"seed": 3} and run["kpis"] == {"makespan": 99.5} and run["files"] == {}
        assert len(store.get_schedule(run["id"]).operations) == 1
        store.add_actual_events(events([(1, "A", "produced", "O1", "cut", 1, None)]))
        versions = store.sql("SELECT version FROM schema_version ORDER BY version")["version"].tolist()
        assert versions == list(range(1, SCHEMA_VERSION + 1))
    with HistoryStore(path) as again:
        assert again.migrated == []


def test_read_only_open_of_an_old_file_asks_for_migration(tmp_path):
    path = tmp_path / "old.duckdb"
    _v1_file(path)
    with pytest.raises(HistoryError, match="migrate"):
        HistoryStore(path, read_only=True)


def test_newer_file_is_refused(tmp_path):
    path = tmp_path / "new.duckdb"
    HistoryStore(path).close()
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO schema_version VALUES (?, 'from the future', 'x', current_timestamp)",
        [SCHEMA_VERSION + 1],
    )
    con.close()
    with pytest.raises(HistoryError, match="newer"):
        HistoryStore(path)
    with pytest.raises(HistoryError, match="newer"):
        HistoryStore(path, read_only=True)


def test_failed_step_rolls_back(tmp_path, monkeypatch):
    from twin.history import schema

    path = tmp_path / "h.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, str(path), target=1)
    broken = (*schema.MIGRATIONS[:1], schema.Migration(2, "broken", "CREATE TABLE x (a INT); SELEC oops"))
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    with pytest.raises(HistoryError, match="migration to schema version 2 failed"):
        schema.migrate(con, str(path))
    assert schema.file_version(con) == 1
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'x'"
    ).fetchall() == [(0,)]
    con.close()
