"""No SQL outside twin/history: the repository is clean, and the check finds a planted string."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sql_confinement import Finding, find_sql

REPO = Path(__file__).resolve().parents[1]


def test_no_sql_string_outside_the_history_package() -> None:
    findings = find_sql(REPO)
    assert findings == [], "\n".join(str(f) for f in findings)


def _checkout(tmp_path: Path, files: dict[str, str], untracked: dict[str, str] | None = None) -> Path:
    """A real git checkout holding `files` (staged) and `untracked` (not added)."""
    for rel, text in {**files, **(untracked or {})}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "--", *files], check=True)
    return tmp_path


def test_a_planted_sql_string_is_found_where_it_is(tmp_path: Path) -> None:
    root = _checkout(
        tmp_path,
        {
            "dashboards/pages/floor.py": "import x\n\n\ndef f(store):\n    return store.sql(\n"
            '        "SELECT station FROM actual_events"\n    )\n',
            "twin/history/reader.py": 'Q = "SELECT * FROM runs"\n',  # allowed: the history package
            "tests/test_a.py": 'Q = "INSERT INTO runs VALUES (1)"\n',  # allowed: tests
            "benchmarks/b.py": 'Q = "CREATE TABLE t (a INT)"\n',  # allowed: benchmarks
            "README.py": '"""Select a plan from the list and dispatch it."""\n',  # prose, not SQL
        },
        untracked={"plantwin/scratch.py": 'Q = "SELECT 1"\n'},  # not tracked: not checked
    )
    assert find_sql(root) == [
        Finding("dashboards/pages/floor.py", 5, ".sql("),
        Finding("dashboards/pages/floor.py", 6, "SELECT"),
    ]


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('q = f"""\n  INSERT   INTO {table} SELECT * FROM b"""\n', "INSERT INTO"),
        ('q = "CREATE OR REPLACE VIEW v AS ..."\n', "CREATE TABLE/VIEW"),
        ("q = 'UPDATE runs SET status = ?'\n", "UPDATE ... SET"),
        ('q = "DELETE FROM actual_events"\n', "DELETE FROM"),
        ('q = "COPY (x) TO out.parquet"\n', "COPY (...)"),
        ("import duckdb\n", "duckdb import"),
        ("from duckdb import connect\n", "duckdb import"),
    ],
)
def test_each_kind_of_sql_is_caught(tmp_path: Path, text: str, what: str) -> None:
    root = _checkout(tmp_path, {"sync/planted.py": text})
    assert what in {f.what for f in find_sql(root)}


def test_not_a_checkout_is_an_error_not_a_pass(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text('Q = "SELECT 1"\n')
    with pytest.raises(RuntimeError, match="not a git checkout"):
        find_sql(tmp_path)
