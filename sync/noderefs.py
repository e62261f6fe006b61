"""Resolve a reference of the plant file (`sync.tags.parse_ref` forms) or a browse path to a NodeId
on a connected server, for the watchers that sit beside the station tags (job responses, stock)."""

from __future__ import annotations

import uuid
from typing import Any

from asyncua import Client, ua

from sync.tags import parse_ref
from twin.errors import SyncError


async def _namespace_index(client: Client, uri: str) -> int:
    try:
        namespaces: list[str] = await client.get_namespace_array()
    except ua.UaError as exc:
        raise SyncError(f"cannot read the namespace array: {exc}") from exc
    if uri not in namespaces:
        raise SyncError(f"namespace {uri!r} is not on the server (it has {', '.join(namespaces)})")
    return namespaces.index(uri)


async def resolve_path(client: Client, path: str, namespace_uri: str) -> ua.NodeId:
    """The node at browse path `path` ('A/B/C', from Objects; unprefixed elements in `namespace_uri`).

    Raises:
        SyncError: the namespace or a path element is not on the server.
    """
    idx = await _namespace_index(client, namespace_uri)
    elements = [e if ":" in e else f"{idx}:{e}" for e in path.split("/") if e]
    try:
        node = await client.nodes.objects.get_child(elements)
    except ua.UaError as exc:
        raise SyncError(f"browse path Objects/{path} not found: {exc}") from exc
    return node.nodeid


async def resolve_ref(client: Client, ref: str, namespace_uri: str) -> ua.NodeId:
    """The NodeId of a plant-file reference ('nsu=URI;s=..', 'ns=2;i=..', 'i=..', 'browse:A/B').

    Raises:
        SyncError: an unknown namespace or browse path.
    """
    p = parse_ref(ref)
    if p.kind == "browse":
        return await resolve_path(client, "/".join(p.path), namespace_uri)
    idx = await _namespace_index(client, p.namespace_uri) if p.namespace_uri else (p.namespace_index or 0)
    ident: Any = p.identifier
    if p.id_type == "i":
        ident = int(p.identifier)
    elif p.id_type == "g":
        ident = uuid.UUID(p.identifier)
    elif p.id_type == "b":
        ident = p.identifier.encode()
    return ua.NodeId(ident, idx)
