"""The dashboard in a real browser (headless Debian chromium via Playwright), served from a history
file written through HistoryStore: every page loads without console, HTTP or callback errors and
shows its main elements; a what-if started on the page finishes and shows its result; dispatch is
enabled only for an accepted verdict. A 1366x768 screenshot of each page goes to
artifacts/screenshots/."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_engines import GreedyEngine
from dashboard_support import SCREENSHOTS, History, Served

from dashboards.app import create_app
from dashboards.components import DashboardConfig
from dashboards.history_services import HistoryServices
from dashboards.scenario_runs import ScenarioWhatIf, library
from dashboards.services import DispatchOutcome
from scenarios.runner import run_scenario
from sync.dispatch import DispatchService, target_of_run
from twin.history import HistoryStore

pytestmark = pytest.mark.browser

HIDE_DEVTOOLS = ".dash-debug-menu, .dash-debug-menu__outer { display: none !important; }"


class Floor:
    """The dispatch service's gate and record with a stand-in for the OPC UA floor: it records
    what it would have sent (the real send is tested over a virtual plant in tests/plantwin)."""

    def __init__(self, store: HistoryStore) -> None:
        self.sent: list[str] = []
        self.service = DispatchService(store, started_by="dashboard test")

    def __call__(self, run_id: str) -> DispatchOutcome:
        target = target_of_run(self.service.store, run_id)
        clearance = self.service.clear(target)
        self.sent.append(run_id)
        rec = self.service.record(target, status="ok", clearance=clearance, mode="test")
        return DispatchOutcome(
            True, f"sent {run_id} to the floor: {len(target.schedule.operations)} operations", rec
        )


@pytest.fixture(scope="module")
def app_url(history: History) -> Iterator[tuple[str, Floor]]:
    floor = Floor(history.store)
    runner = functools.partial(run_scenario, engine=GreedyEngine(pause=0.3))
    services = HistoryServices(
        history.store,
        history.plant,
        whatif=ScenarioWhatIf(runner, history.store, lambda: history.plant),
        library=library,
        dispatcher=floor,
    )
    app = create_app(services, config=DashboardConfig(refresh_ms=60_000, poll_ms=400))
    # the dev tools report front-end errors (wiring, prop types) in the page, where the test looks
    app.enable_dev_tools(
        debug=True,
        dev_tools_ui=True,
        dev_tools_props_check=True,
        dev_tools_validate_callbacks=True,
        dev_tools_serve_dev_bundles=False,
        dev_tools_hot_reload=False,
        dev_tools_disable_version_check=True,
    )
    served = Served(app.server)
    yield served.url, floor
    served.close()


class Watched:
    """A page with every console error, page error and failed HTTP response recorded."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1366, "height": 768})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console", lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        self.page.on(
            "response",
            lambda r: self.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        self.url = url

    def open(self, path: str) -> Any:
        self.page.goto(self.url + path)
        self.settle()
        return self.page

    def settle(self, timeout: float = 20_000) -> None:
        self.page.wait_for_load_state("networkidle", timeout=timeout)
        self.page.wait_for_function(
            "() => !document.querySelector('[data-dash-is-loading=\"true\"]')", timeout=timeout
        )

    def devtools_errors(self) -> int:
        badge = self.page.locator(".test-devtools-error-count")
        return int(badge.inner_text() or 0) if badge.count() else 0

    def assert_clean(self) -> None:
        assert self.problems == []
        assert self.devtools_errors() == 0, self.page.locator(".dash-fe-error__title").all_inner_texts()

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, style=HIDE_DEVTOOLS)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(chromium: Any, app_url: tuple[str, Floor]) -> Iterator[Watched]:
    w = Watched(chromium, app_url[0])
    yield w
    w.close()


def finished(page: Any) -> None:
    """Wait for the what-if's result or its error, and fail with the error's text."""
    page.locator("#whatif-result-title, #whatif-error").first.wait_for(timeout=90_000)
    errors = page.locator("#whatif-error")
    assert errors.count() == 0, errors.inner_text()


def count(page: Any, selector: str) -> int:
    return page.locator(selector).count()


def test_floor_page(watched: Watched, history: History) -> None:
    page = watched.open("/")
    stations = [s.id for s in history.plant.stations]
    # the cards come from the page's first callback: wait for its answer, not only for network idle
    # (the first page of a fresh server can be idle before that callback has even been sent)
    page.locator(".station-card").nth(len(stations) - 1).wait_for(timeout=20_000)
    page.locator("#floor-oee .trace.bars").first.wait_for(timeout=20_000)
    assert count(page, ".station-card") == len(stations)
    assert page.locator(".station-card").first.inner_text().startswith(stations[0])
    assert count(page, "#floor-oee .trace.bars") == 4  # availability, performance, quality, OEE
    assert "shift" in page.locator("#floor-shift").inner_text()
    # no live sync in this test: the page says the states are the last recorded ones
    assert "last good data" in page.locator("#floor-stale").inner_text()
    assert page.locator("#floor-wip-count").inner_text() != "0"  # orders started, not finished
    assert page.locator("#floor-alerts").inner_text().strip() != ""
    watched.assert_clean()
    watched.shot("floor")


def test_plan_vs_actual_page(watched: Watched, history: History) -> None:
    page = watched.open("/plan-vs-actual")
    assert count(page, "#pva-gantt .trace.bars") == 2  # plan and actual
    assert count(page, "#pva-output .scatterlayer .trace") >= 2  # planned and actual
    # the newest plan (the accepted one) has no simulation; the first one has: choosing it picks it
    page.locator("#pva-plan").click()
    page.get_by_role("option", name=history.runs.plan).click()
    page.locator("#pva-output .legendtext", has_text="Simulated median").wait_for(timeout=20_000)
    watched.settle()
    assert history.runs.simulation in page.locator("#pva-sim").inner_text()
    legend = page.locator("#pva-output .legendtext").all_text_contents()
    assert {"Simulated P10-P90", "Simulated median", "Planned", "Actual"} <= set(legend), legend
    assert count(page, "#pva-risk-table tr") > 1  # the refused plan has orders at risk
    watched.assert_clean()
    watched.shot("plan-vs-actual")


def test_quality_page(watched: Watched) -> None:
    page = watched.open("/quality")
    assert count(page, "#quality-graph .scatterlayer .trace") >= 3
    page.locator("#quality-rules").get_by_text("Nelson").click()
    watched.settle()
    # the synthetic values step up by 1.5 sd at the end: some rule fires
    assert count(page, "#quality-violations-table tr") > 1
    watched.assert_clean()
    watched.shot("quality")
    page.locator("#quality-chart").get_by_text("X-bar / R").click()
    # wait for the redrawn chart itself: the callback can finish after the network goes quiet
    page.locator("#quality-graph .gtitle", has_text="X-bar / R").wait_for(timeout=20_000)
    watched.settle()
    watched.assert_clean()


def test_dispatch_page_gates_on_the_verdict(
    watched: Watched, history: History, app_url: tuple[str, Floor]
) -> None:
    floor = app_url[1]
    page = watched.open("/dispatch")
    assert count(page, "#dispatch-table tr") >= 3  # header + two plans
    # the newest candidate is the accepted one
    assert "Accepted" in page.locator("#dispatch-verdict").inner_text()
    assert page.locator("#dispatch-send").is_enabled()
    watched.shot("dispatch")
    page.locator("#dispatch-choose").click()
    page.get_by_role("option", name=f"{history.runs.plan} (refused)").click()
    page.locator("#dispatch-reasons li").first.wait_for(timeout=20_000)  # the callback's answer
    watched.settle()
    assert page.locator("#dispatch-send").is_disabled()
    assert count(page, "#dispatch-reasons li") >= 1
    assert "Refused" in page.locator("#dispatch-verdict").inner_text()
    watched.shot("dispatch-refused")
    page.locator("#dispatch-choose").click()
    page.get_by_role("option", name=f"{history.accepted_plan} (accepted)").click()
    watched.settle()
    page.locator("#dispatch-send").click()
    page.locator("#dispatch-outcome").wait_for(timeout=10_000)
    assert floor.sent == [history.accepted_plan]
    assert "sent" in page.locator("#dispatch-outcome").inner_text()
    assert not history.store.list_runs(kind="dispatch", parent=history.accepted_plan).empty
    watched.assert_clean()


def test_whatif_runs_in_the_background_and_shows_the_result(watched: Watched) -> None:
    page = watched.open("/what-if")
    assert page.locator("#whatif-run").is_enabled()
    page.locator("#whatif-scenario").click()
    page.get_by_role("option", name="rush-fits").click()
    page.locator("#whatif-replications").fill("4")
    page.locator("#whatif-run").click()
    page.wait_for_function("() => document.querySelector('#whatif-run').disabled", timeout=5_000)
    # while it runs the page answers: switching the form is a callback round trip
    page.locator("#whatif-mode").get_by_text("Rush order").click()
    page.locator("#whatif-rush-fields").wait_for(state="visible", timeout=5_000)
    assert page.locator("#whatif-result-title").count() == 0
    finished(page)
    assert "rush-fits" in page.locator("#whatif-result-title").inner_text()
    assert count(page, "#whatif-comparison tr") > 1
    assert count(page, "#whatif-gantt .trace.bars") == 2  # baseline and variant
    assert page.locator("#whatif-progress").inner_text().strip() == "100 %"
    assert count(page, "#whatif-runs tr") > 1  # the run is in the history
    watched.assert_clean()
    page.wait_for_timeout(800)  # Bootstrap animates the progress bar's width for 0.6 s
    watched.shot("what-if")


def test_whatif_rush_order_from_the_form(watched: Watched, history: History) -> None:
    page = watched.open("/what-if")
    page.locator("#whatif-mode").get_by_text("Rush order").click()
    page.locator("#whatif-quantity").fill("15")
    page.locator("#whatif-replications").fill("3")
    page.locator("#whatif-run").click()
    finished(page)
    assert "dashboard-rush-order" in page.locator("#whatif-result-title").inner_text()
    assert "(rush)" in page.locator("#whatif-orders").inner_text()
    stored = history.store.list_runs(kind="scenario", started_by="plantwin dashboard")
    assert "dashboard-rush-order" in set(stored["params"].str.extract(r'"scenario": ?"([^"]+)"')[0])
    watched.assert_clean()


def test_whatif_rejects_a_bad_due_date_on_the_page(watched: Watched) -> None:
    page = watched.open("/what-if")
    page.locator("#whatif-mode").get_by_text("Rush order").click()
    page.locator("#whatif-due").fill("next friday")
    page.locator("#whatif-run").click()
    page.get_by_text("Due must look like").wait_for(timeout=5_000)
    assert page.locator("#whatif-run").is_enabled()
    watched.assert_clean()


def test_history_page_compares_two_runs(watched: Watched, history: History) -> None:
    page = watched.open("/history")
    rows = page.locator("#history-runs tbody tr")
    assert rows.count() > 4
    boxes = page.locator("#history-runs input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    watched.settle()
    table = page.locator("#history-compare-table")
    assert "kind" in table.inner_text()
    watched.shot("history")
    page.locator("#history-kind").click()
    page.get_by_role("option", name="plan", exact=True).click()
    page.wait_for_function(  # the filtered table, not the one before the callback answered
        """() => { const c = [...document.querySelectorAll('#history-runs td[data-dash-column=kind]')];
                   return c.length > 0 && c.every(td => td.innerText.trim() === 'plan'); }""",
        timeout=20_000,
    )
    watched.settle()
    kinds = page.locator("#history-runs td[data-dash-column=kind]").all_inner_texts()
    assert kinds and set(kinds) == {"plan"}
    watched.assert_clean()


def test_unknown_path_says_not_found(watched: Watched) -> None:
    page = watched.open("/nowhere")
    assert "Page not found" in page.inner_text("body")
    watched.assert_clean()
