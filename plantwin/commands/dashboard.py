"""`plantwin dashboard`: serve the Dash dashboard from a history file.

This is the composition root of the dashboard: it opens the history store, binds the scenario
runner to the real planner and simulator, and hands both to `dashboards.app.create_app` through
`HistoryServices`. It binds to 127.0.0.1 by default and refuses any other address unless
authentication (HTTP basic, users from a file or $PLANTWIN_DASHBOARD_USERS) is configured.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from plantwin import args
from plantwin.common import err_console, open_plant, report_errors, wiring
from plantwin.recording import DbOption, history_path
from twin.errors import InputError, Issue
from twin.history import HistoryStore

ENV_USERS = "PLANTWIN_DASHBOARD_USERS"
"""'user:password[,user:password...]': dashboard users when no --users-file is given."""


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)


def is_loopback(host: str) -> bool:
    """True for 'localhost' and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_users(text: str, source: str) -> dict[str, str]:
    """Users from 'user:password' entries, one per line or comma-separated; '#' starts a comment.

    Raises:
        InputError: an entry without a user name or a password.
    """
    users: dict[str, str] = {}
    entries = [e.strip() for line in text.splitlines() for e in line.split("#", 1)[0].split(",")]
    for n, entry in enumerate(e for e in entries if e):
        user, sep, password = entry.partition(":")
        if not sep or not user or not password:
            raise InputError(Issue(f"entry {n + 1}: expected 'user:password'", source))
        users[user] = password
    return users


def load_users(users_file: Path | None) -> dict[str, str]:
    """Users from --users-file, else from $PLANTWIN_DASHBOARD_USERS, else none."""
    if users_file is not None:
        if not users_file.is_file():
            raise InputError(Issue("no such file", str(users_file)))
        return parse_users(users_file.read_text(encoding="utf-8"), str(users_file))
    env = os.environ.get(ENV_USERS)
    return parse_users(env, f"${ENV_USERS}") if env else {}


@report_errors
def dashboard(
    ctx: typer.Context,
    db: DbOption = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; other than loopback needs authentication.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8050,
    plant: Annotated[
        str | None, typer.Option(help="Plant YAML or sample name (default: the latest plant in the history).")
    ] = None,
    users_file: Annotated[
        Path | None,
        typer.Option(help=f"File of 'user:password' lines for HTTP basic authentication (or ${ENV_USERS})."),
    ] = None,
) -> None:
    """Serve the dashboard: floor, plan vs actual, what-if, dispatch, quality and history."""
    args.port("--port", port)
    args.port_free("--port", host, port)
    users = load_users(users_file)
    if not is_loopback(host) and not users:
        raise InputError(
            Issue(
                f"refusing to serve on {host} without authentication: give --users-file FILE "
                f"('user:password' lines) or set {ENV_USERS}, and put TLS in front (a reverse proxy)",
                "--host",
            )
        )
    path = history_path(db)
    store = HistoryStore(path)
    try:
        model = open_plant(plant)[0] if plant is not None else store.latest_plant()
        if model is None:
            raise InputError(Issue("the history holds no plant yet: name one with --plant", str(path)))
        # imported here, not at module level: every plantwin command loads this module, and
        # Dash and the planner are heavy. The scenario runner reaches the planner and the
        # simulator, so it is bound here, not in dashboards.
        from dashboards.app import create_app
        from dashboards.history_services import HistoryServices
        from dashboards.scenario_runs import ScenarioWhatIf, library
        from scenarios.engine import TwinEngine
        from scenarios.runner import run_scenario

        kpis = wiring(ctx).kpis
        runner = functools.partial(run_scenario, engine=TwinEngine(kpis=kpis), kpis=kpis)
        services = HistoryServices(
            store, model, whatif=ScenarioWhatIf(runner, store, lambda: model, kpis), library=library
        )
        app = create_app(services, users=users or None)
        err_console.print(
            f"plantwin dashboard: http://{host}:{port}/ (history {path}"
            f"{', basic authentication' if users else ''}); Ctrl-C stops it",
            highlight=False,
        )
        app.run(host=host, port=port, debug=False)
    finally:
        store.close()
