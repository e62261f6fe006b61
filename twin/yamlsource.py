"""YAML (and JSON) parsing that remembers the line of every field, for error messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from twin.errors import InputError, Issue

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SourceDoc:
    """Parsed data plus a map from field path to its 1-based line in `source`."""

    data: Any
    lines: dict[Path, int]
    source: str

    def line_of(self, path: Path) -> int | None:
        """The line of the deepest known prefix of `path` (None for an empty document)."""
        for k in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:k]))
            if line is not None:
                return line
        return None

    def issue(self, path: Path, message: str, severity: str = "error") -> Issue:
        return Issue(message, self.source, self.line_of(path), format_path(path), severity)


def format_path(path: Path) -> str:
    """('lines', 0, 'stations', 2, 'machines') -> 'lines[0].stations[2].machines'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines)


def parse_yaml(text: str, source: str) -> SourceDoc:
    """Parse YAML (JSON is a subset) and record field lines.

    Raises:
        InputError: the text is not well-formed YAML/JSON (names the line).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(Issue(f"not valid YAML: {problem}", source, line)) from exc
    lines: dict[Path, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return SourceDoc(data, lines, source)
