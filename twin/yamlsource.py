"""YAML (and JSON) parsing that remembers the line of every field, for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from twin.errors import InputError, Issue

Path = tuple[str | int, ...]
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when installed: 10x faster
_SURROGATE = re.compile("[\ud800-\udfff]")
_HALF = "a \\u escape makes half a character (a lone surrogate): write the character itself"
_TWICE = "key appears twice in the same mapping (YAML would keep only the last)"


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


def _walk(
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    seen: set[int] | None = None,
    dups: list[tuple[Path, int, str]] | None = None,
) -> None:
    """Record the line of every field under `node`.

    A node reached again through an alias (`*name`) is not walked again: its fields take the
    line of the alias. That keeps recursive anchors from looping and shared ones linear.
    A key repeated in one mapping (YAML keeps the last silently) and a lone surrogate (from a
    '\\ud800' escape; no file can hold one) are added to `dups` as (path, line, message).
    """
    seen = set() if seen is None else seen
    lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode) and _SURROGATE.search(node.value) and dups is not None:
        dups.append((path, node.start_mark.line + 1, _HALF))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            if key in keys and key != "<<" and dups is not None:
                dups.append((child, key_node.start_mark.line + 1, _TWICE))
            if isinstance(key_node, yaml.ScalarNode) and _SURROGATE.search(key) and dups is not None:
                dups.append((child, key_node.start_mark.line + 1, _HALF))
            keys.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, seen, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, seen, dups)


def parse_yaml(text: str, source: str) -> SourceDoc:
    """Parse YAML (JSON is a subset) and record field lines.

    Raises:
        InputError: the text is not well-formed YAML/JSON (names the line).
    """
    loader = _LOADER(text)
    try:
        # One parse: the node tree gives the lines, the same tree is then constructed into
        # data (what yaml.safe_load does, without parsing the text a second time).
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):  # a control character: no mark, a position
            line = text.count("\n", 0, exc.position) + 1
            char = exc.character
            shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
            problem = f"character {shown} is not allowed ({exc.reason})"
        raise InputError(Issue(f"not valid YAML: {problem}", source, line)) from exc
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    problems: list[tuple[Path, int, str]] = []
    if node is not None:
        _walk(node, (), lines, None, problems)
    if problems:
        raise InputError([Issue(msg, source, ln, format_path(p)) for p, ln, msg in problems])
    return SourceDoc(data, lines, source)
