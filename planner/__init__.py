"""The planner: finite-capacity scheduling with CP-SAT, dispatch rules, rush-order re-planning.

solve(plant, orders, ...) -> PlanResult           CP-SAT, warm-started by a dispatch rule
dispatch_schedule(plant, orders, rule=...) -> Schedule   EDD / SPT / ATC, instant
replan(plant, schedule, orders, rush, live, ...) -> ReplanResult   frozen horizon, change penalties
plan_until_accepted(plant, orders, ...) -> LoopResult  plan -> sim.check -> repair, until accepted
"""

from planner.loop import plan_until_accepted
from planner.replan import replan
from planner.results import IterationReport, LoopResult, Move, PlanResult, ReplanResult
from planner.solver import dispatch_schedule, solve

__all__ = [
    "IterationReport",
    "LoopResult",
    "Move",
    "PlanResult",
    "ReplanResult",
    "dispatch_schedule",
    "plan_until_accepted",
    "replan",
    "solve",
]
