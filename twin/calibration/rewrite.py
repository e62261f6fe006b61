"""Rewrite values in a YAML text in place: only the changed spans move, the rest of the file
(comments, layout, flow or block style, quoting) stays byte for byte as it was.

PyYAML's node tree gives the start and end of every value in the text; each change replaces
one value's span with the new value in YAML flow form, which reads the same inside a flow
mapping (`{id: mill, time: 70}`) and as a block value. A key the file does not have yet (a
`yield` left at its default) is added to its mapping in that mapping's style.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

Path = tuple[str | int, ...]
_DURATION = re.compile(r"^\d+(\.\d+)?(s|m|h|d|w)$")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+-]*$")
_KEYWORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def render(value: Any) -> str:
    """A value in YAML flow form: numbers, strings, lists and mappings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} into a plant file")
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        plain = bool(_PLAIN.match(value)) and value.lower() not in _KEYWORDS
        return value if plain or _DURATION.match(value) else json.dumps(value)  # JSON strings are YAML
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"cannot write a {type(value).__name__} into a plant file")


def _child(node: yaml.Node, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _insertion(text: str, mapping: yaml.MappingNode, key: str, value: str) -> tuple[int, int, str]:
    """Where and what to insert to add `key: value` to `mapping`, in its style."""
    if mapping.flow_style:
        close = mapping.end_mark.index - 1  # the closing brace
        sep = ", " if mapping.value else ""
        return close, close, f"{sep}{key}: {value}"
    if not mapping.value:
        raise ValueError("cannot add a key to an empty block mapping")
    first_key = mapping.value[0][0]
    indent = " " * first_key.start_mark.column
    last_value = mapping.value[-1][1]
    eol = text.find("\n", last_value.end_mark.index - 1)
    at = len(text) if eol < 0 else eol
    return at, at, f"\n{indent}{key}: {value}"


def rewrite_values(text: str, changes: Mapping[Path, Any]) -> str:
    """`text` with the value at each path replaced (or added to its mapping when missing).

    Raises:
        ValueError: a path that does not lead to a value or to a mapping that could hold it.
    """
    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if root is None:
        raise ValueError("empty YAML document")
    edits: list[tuple[int, int, str]] = []
    for path, value in changes.items():
        node: yaml.Node | None = root
        for part in path[:-1]:
            node = _child(node, part) if node is not None else None
        if node is None:
            raise ValueError(f"no {'.'.join(map(str, path[:-1]))} in the file")
        last = path[-1]
        target = _child(node, last)
        new = render(value)
        if target is not None:
            edits.append((target.start_mark.index, target.end_mark.index, new))
        elif isinstance(node, yaml.MappingNode) and isinstance(last, str):
            edits.append(_insertion(text, node, last, new))
        else:
            raise ValueError(f"no {'.'.join(map(str, path))} in the file")
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text
