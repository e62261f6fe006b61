"""The check that keeps SQL inside `twin/history`: it finds SQL strings (and direct DuckDB
imports) in the git-tracked Python files of a checkout, outside the places allowed to hold them.

import-linter sees imports, not strings, so this reads the text. SQL here is written in upper
case (the project's style), which keeps prose ("select a plan") from matching. Run it alone with
`python tests/sql_confinement.py` (exit 1 and one line per finding when it finds any).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ALLOWED = ("twin/history/", "tests/", "benchmarks/")
"""Path prefixes that may hold SQL: the history package itself, and tests and benchmarks."""

PATTERNS: dict[str, re.Pattern[str]] = {
    "SELECT": re.compile(r"\bSELECT\b"),
    "INSERT INTO": re.compile(r"\bINSERT\s+INTO\b"),
    "CREATE TABLE/VIEW": re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+)?(?:TABLE|VIEW)\b"),
    "UPDATE ... SET": re.compile(r"\bUPDATE\s+\w+\s+SET\b"),
    "DELETE FROM": re.compile(r"\bDELETE\s+FROM\b"),
    "COPY (...)": re.compile(r"\bCOPY\s*\("),
    ".sql(": re.compile(r"\.sql\("),
    "duckdb import": re.compile(r"^\s*(?:import\s+duckdb\b|from\s+duckdb\b)", re.M),
}


@dataclass(frozen=True)
class Finding:
    """One SQL string where none may be: file (relative to the checkout), line and what matched."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} outside twin/history (use the history's read API)"


def tracked_python_files(root: Path) -> list[str]:
    """The .py files git tracks under `root` (relative, '/'-separated).

    Raises:
        RuntimeError: `root` is not a git checkout (the check reads what is committed or staged).
    """
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--", "*.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"{root}: not a git checkout, cannot list the tracked files: {exc}") from exc
    return sorted(p for p in out.split("\0") if p)


def find_sql(root: Path) -> list[Finding]:
    """Every SQL pattern match in a tracked .py file outside ALLOWED, in file and line order."""
    found: list[Finding] = []
    for rel in tracked_python_files(root):
        if rel.startswith(ALLOWED):
            continue
        path = root / rel
        if not path.is_file():  # deleted in the work tree, not yet staged
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for what, pattern in PATTERNS.items():
            for m in pattern.finditer(text):
                found.append(Finding(rel, text.count("\n", 0, m.start()) + 1, what))
    return sorted(found, key=lambda f: (f.path, f.line, f.what))


def main() -> int:
    findings = find_sql(Path(__file__).resolve().parents[1])
    for f in findings:
        print(f)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
