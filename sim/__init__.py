"""The simulator: a SimPy model of the plant, replications on an executor, and the check of a schedule.

    simulate(plant, orders, schedule=.. | rule=..)  -> SimResult       (one run)
    replicate(...)                                  -> Replications    (n runs, 95% CIs)
    check(plant, orders, schedule)                  -> twin.verdict.Verdict

`sim.model.PlantModel` is the model itself, usable in any SimPy environment
(the virtual plant runs it in real time); see docs/simulator.md.
"""

from sim.check import check
from sim.model import RULES, PlantModel
from sim.result import SimResult
from sim.run import Replications, SerialExecutor, replicate, simulate

__all__ = [
    "RULES",
    "PlantModel",
    "Replications",
    "SerialExecutor",
    "SimResult",
    "check",
    "replicate",
    "simulate",
]
