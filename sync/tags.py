"""The plant's tag map as a flat list of tags, and the parsing of the node references it holds.

A reference is written in the plant YAML (or derived by `Plant.tag_map`) as one of:
`nsu=URI;s=Name` (namespace by URI, the portable form), `ns=2;s=Name` / `ns=2;i=42`
(namespace by index, fragile across servers), `i=2258` (namespace 0) or
`browse:Name/Name/...` (a browse path from the Objects folder; each element may carry
its own `N:` or `nsu=URI:` prefix, else the plant's namespace URI is used).
Resolving a reference to a concrete `NodeId` needs the server's namespace array, which is
why this module only parses; `sync.client` resolves.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.plant import Plant
from twin.tagnames import COUNTER_TAGS, SCALAR_TAGS, TEXT_TAGS, process_value_name, process_value_tag

__all__ = ["COUNTER_TAGS", "SCALAR_TAGS", "TEXT_TAGS", "ParsedRef", "Tag", "parse_ref", "plant_tags"]


@dataclass(frozen=True)
class Tag:
    """One subscribed value: which station and which tag ('good_count', 'pv:spindle_temp', ...)."""

    station: str
    tag: str
    ref: str

    @property
    def is_process_value(self) -> bool:
        return process_value_name(self.tag) is not None


@dataclass(frozen=True)
class ParsedRef:
    """A parsed reference: an identifier in a namespace (by URI or index), or a browse path."""

    kind: str  # "node" or "browse"
    namespace_uri: str | None = None
    namespace_index: int | None = None
    id_type: str = "s"  # s (string), i (numeric), g (guid), b (opaque)
    identifier: str = ""
    path: tuple[str, ...] = ()


def plant_tags(plant: Plant) -> list[Tag]:
    """Every tag of every station, in plant order (stations without a reference are skipped)."""
    tags: list[Tag] = []
    for station in plant.stations:
        tm = plant.tag_map(station.id)
        for name in SCALAR_TAGS:
            ref = getattr(tm, name)
            if ref:
                tags.append(Tag(station.id, name, ref))
        for pv, ref in tm.process_values.items():
            if ref:
                tags.append(Tag(station.id, process_value_tag(pv), ref))
    return tags


def parse_ref(ref: str) -> ParsedRef:
    """Parse one reference string.

    Raises:
        ValueError: the string is not one of the accepted forms (the message says which are).
    """
    if ref.startswith("browse:"):
        parts = tuple(p for p in ref[len("browse:") :].split("/") if p)
        if not parts:
            raise ValueError(f"empty browse path in {ref!r}")
        return ParsedRef(kind="browse", path=parts)
    uri: str | None = None
    index: int | None = None
    rest = ref
    if rest.startswith("nsu="):
        head, sep, rest = rest.partition(";")
        if not sep:
            raise ValueError(f"{ref!r}: expected 'nsu=URI;s=Name'")
        uri = head[len("nsu=") :]
    elif rest.startswith("ns="):
        head, sep, rest = rest.partition(";")
        if not sep or not head[3:].isdigit():
            raise ValueError(f"{ref!r}: expected 'ns=INDEX;s=Name'")
        index = int(head[3:])
    else:
        index = 0
    id_type, sep, identifier = rest.partition("=")
    if not sep or id_type not in ("s", "i", "g", "b") or not identifier:
        raise ValueError(f"{ref!r}: expected an identifier 's=..', 'i=..', 'g=..' or 'b=..'")
    if id_type == "i" and not identifier.isdigit():
        raise ValueError(f"{ref!r}: a numeric identifier 'i=' needs digits")
    return ParsedRef(
        kind="node", namespace_uri=uri, namespace_index=index, id_type=id_type, identifier=identifier
    )
