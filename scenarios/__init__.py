"""What-if scenarios: scenario files of typed changes, the runner that compares them with the baseline.

load_scenario(path_or_name) -> LoadedScenario        parse, validate every change (file, line, field)
apply_changes(plant, orders, changes) -> (plant, orders)   pure
run_scenario(loaded, replications=, seed=, ...) -> ScenarioReport   baseline vs variants, same seeds
promise(plant, orders, product, qty, confidence=) -> PromiseResult  capable-to-promise
"""

from scenarios.changes import apply_changes
from scenarios.engine import Engine, TwinEngine
from scenarios.files import (
    LoadedScenario,
    library_descriptions,
    list_library,
    load_scenario,
    rush_order_scenario,
)
from scenarios.model import Scenario
from scenarios.promise import PromiseResult, promise
from scenarios.report import ScenarioReport, comparison_frame, order_changes_frame
from scenarios.runner import run_scenario, run_sweep

__all__ = [
    "Engine",
    "LoadedScenario",
    "PromiseResult",
    "Scenario",
    "ScenarioReport",
    "TwinEngine",
    "apply_changes",
    "comparison_frame",
    "library_descriptions",
    "list_library",
    "load_scenario",
    "order_changes_frame",
    "promise",
    "run_scenario",
    "run_sweep",
    "rush_order_scenario",
]
