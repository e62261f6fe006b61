"""The dashboard inside the service process: the Dash app over the same history store, served by a
werkzeug server on a thread that can be shut down cleanly."""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Callable, Mapping

from werkzeug.serving import BaseWSGIServer, make_server

from dashboards.app import create_app
from dashboards.history_services import Dispatcher, HistoryServices
from dashboards.scenario_runs import ScenarioWhatIf, library
from twin.errors import InputError, Issue
from twin.history import HistoryStore
from twin.live import LiveState
from twin.plant import Plant


def services_for(
    store: HistoryStore,
    plant: Plant,
    live: Callable[[], LiveState | None],
    dispatcher: Dispatcher | None = None,
) -> HistoryServices:
    """The dashboard's services: history queries, the live state of this process's sync client,
    the what-if runner bound to the real planner and simulator, and the dispatch action."""
    from scenarios.engine import TwinEngine
    from scenarios.runner import run_scenario

    runner = functools.partial(run_scenario, engine=TwinEngine())
    return HistoryServices(
        store,
        plant,
        live=live,
        whatif=ScenarioWhatIf(runner, store, lambda: plant),
        library=library,
        dispatcher=dispatcher,
    )


class DashboardThread:
    """Serves `create_app(services)` on host:port from a daemon thread until `stop()`."""

    def __init__(
        self, services: HistoryServices, host: str, port: int, users: Mapping[str, str] | None = None
    ) -> None:
        app = create_app(services, users=users)
        with socket.socket() as probe:  # werkzeug exits the process on a busy port: ask first
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise InputError(
                    Issue(f"cannot serve the dashboard on {host}:{port}: {exc.strerror}", "--port")
                ) from None
        self._server: BaseWSGIServer = make_server(host, port, app.server, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
