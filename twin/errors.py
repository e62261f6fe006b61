"""The one exception tree of plantwin; adapters translate third-party errors into it.

    PlantwinError                 root: anything plantwin raises on purpose
    ├── InputError                a user mistake in a file or argument (exit 2)
    │   └── (carries Issue rows: source, line, field path, message)
    ├── InfeasibleError           no solution exists within the stated limits
    ├── HistoryError              the history store cannot do what was asked
    │   └── HistoryLockedError    another process holds the DuckDB file
    ├── SyncError                 OPC UA connection or protocol failure
    └── DispatchRefused           a schedule without an accepted verdict

Messages are meant for the person at the keyboard: they name the file, the line
and the field, and say what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One thing wrong with an input: where (source, line, field path) and what."""

    message: str
    source: str = "<input>"
    line: int | None = None
    path: str = ""
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class PlantwinError(Exception):
    """Root of every error plantwin raises on purpose."""


class InputError(PlantwinError):
    """A user mistake in an input file or argument; holds one or more issues."""

    def __init__(self, issues: list[Issue] | Issue | str, *, source: str = "<input>") -> None:
        if isinstance(issues, str):
            issues = [Issue(issues, source=source)]
        elif isinstance(issues, Issue):
            issues = [issues]
        if not issues:
            raise ValueError("InputError needs at least one issue")
        self.issues: list[Issue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class InfeasibleError(PlantwinError):
    """No solution exists within the stated limits (the message says which)."""


class HistoryError(PlantwinError):
    """The history store could not do what was asked."""


class HistoryLockedError(HistoryError):
    """Another process holds the history file for writing (DuckDB's one-writer rule)."""


class SyncError(PlantwinError):
    """An OPC UA connection or protocol failure."""


class DispatchRefused(PlantwinError):
    """A schedule was not dispatched; the message says why, `reason` names the case
    (no_verdict, verdict_refused, other_plant, other_orders, schedule_changed, misfit, ...) and
    `runs` the history runs involved."""

    def __init__(self, message: str, *, reason: str = "refused", runs: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reason = reason
        self.runs = tuple(runs)
