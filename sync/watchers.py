"""The port through which the sync client feeds nodes that are not station tags (job responses,
stock levels) to whoever keeps them: resolved after every (re)connect, subscribed with the
station tags, read after every (re)connect, each value handed to `on_value`."""

from __future__ import annotations

from typing import Protocol

from asyncua import Client, ua


class NodeWatcher(Protocol):
    """Watches some nodes of a server for the sync client."""

    async def resolve(self, client: Client) -> list[ua.NodeId]:
        """The nodes to subscribe to on this connection (may be none)."""
        ...

    def on_value(self, nodeid: ua.NodeId, dv: ua.DataValue) -> None:
        """One value of one of those nodes, from a notification or a read, in arrival order."""
        ...
