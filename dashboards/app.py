"""The app factory: `create_app(services)` builds the Dash app with its pages and an explicit router.

Why an explicit router and not `use_pages`: pages get the services object through `register(app,
ctx)` closures instead of module globals, so two apps (two tests) can run in one process. Every
page's layout is static (no data read when it is built); callbacks fetch data when the page shows.
`validation_layout` holds every page, so Dash checks all callback ids without
`suppress_callback_exceptions`.
"""

from __future__ import annotations

import base64
import hmac
import importlib.resources
from collections.abc import Mapping
from types import ModuleType

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html
from flask import Response, request

from dashboards.components import DashboardConfig, PageContext
from dashboards.jobs import JobRunner
from dashboards.pages import dispatch, fidelity, floor, history, plan_vs_actual, quality, whatif
from dashboards.services import DashboardServices

BOOTSTRAP_CSS_URL = "/_plantwin/static/bootstrap.min.css"
"""Bootstrap 5.3 served from the bootstrap-flask wheel: the dashboard works with no internet access."""

PAGES: tuple[ModuleType, ...] = (floor, plan_vs_actual, whatif, dispatch, quality, fidelity, history)
"""In navigation order; each has PATH, TITLE, layout(cfg, services=None) and register(app, ctx)."""


def _navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(
            dbc.NavLink(p.TITLE, href=p.PATH, active="exact", id=f"nav-{p.__name__.rsplit('.', 1)[-1]}")
        )
        for p in PAGES
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("plantwin", href="/", className="fw-bold"),
                dbc.Nav(links, pills=True, className="me-auto"),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="mb-2 py-1",
    )


def _not_found(path: str) -> html.Div:
    return html.Div(
        [html.H3("Page not found"), html.P(f"No page at {path}."), dcc.Link("Go to the floor", href="/")],
        className="mt-3",
    )


def _serve_bootstrap(app: Dash) -> None:
    css = importlib.resources.files("flask_bootstrap") / "static/bootstrap5/css/bootstrap.min.css"
    body = css.read_bytes()

    def bootstrap_css() -> Response:
        return Response(body, mimetype="text/css", headers={"Cache-Control": "public, max-age=86400"})

    app.server.add_url_rule(BOOTSTRAP_CSS_URL, "plantwin_bootstrap_css", bootstrap_css)


def _basic_auth(app: Dash, users: Mapping[str, str]) -> None:
    """Require HTTP basic authentication for every request (credentials compared in constant time)."""

    def check() -> Response | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            expected = users.get(user)
            if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
                return None
        return Response("authentication required", 401, {"WWW-Authenticate": 'Basic realm="plantwin"'})

    app.server.before_request(check)


def create_app(
    services: DashboardServices,
    *,
    config: DashboardConfig | None = None,
    jobs: JobRunner | None = None,
    users: Mapping[str, str] | None = None,
    title: str = "plantwin",
) -> Dash:
    """The dashboard app for `services`.

    `users` (name -> password) turns on HTTP basic authentication; `jobs` runs long work (a new
    runner with one worker by default). Nothing is read from `services` until a page is shown.
    """
    cfg = config or DashboardConfig()
    ctx = PageContext(services=services, jobs=jobs or JobRunner(), config=cfg)
    app = Dash(
        __name__,
        title=title,
        external_stylesheets=[BOOTSTRAP_CSS_URL],
        suppress_callback_exceptions=False,
        serve_locally=True,
    )
    shell = html.Div(
        [dcc.Location(id="url"), _navbar(), dbc.Container(id="page-content", fluid=True, className="pb-4")]
    )
    app.layout = shell
    layouts = {p.PATH: p.layout for p in PAGES}
    app.validation_layout = html.Div([shell, *(p.layout(cfg) for p in PAGES)])

    @app.callback(Output("page-content", "children"), Input("url", "pathname"))
    def route(pathname: str | None) -> html.Div:
        path = (pathname or "/").rstrip("/") or "/"
        page = layouts.get(path)
        return page(cfg, services) if page is not None else _not_found(path)

    for page in PAGES:
        page.register(app, ctx)
    _serve_bootstrap(app)
    if users:
        _basic_auth(app, users)
    app.server.config["PLANTWIN_JOBS"] = ctx.jobs
    return app
