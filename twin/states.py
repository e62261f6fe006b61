"""Machine states, named after PackML (ISA-TR88.00.02) and mapped to ISO 22400 time elements.

| state (stored by name) | PackML                         | ISO 22400-2 time element          |
|------------------------|--------------------------------|-----------------------------------|
| Execute                | Execute (mode Produce)         | APT (actual production time)      |
| Setup                  | Execute in Machinery mode Setup | AUST (actual unit setup time)    |
| Idle                   | Idle                           | part of PBT, not busy             |
| Starved                | Suspended (upstream/material)  | ADET (actual unit delay time)     |
| Blocked                | Suspended (downstream full)    | ADET                              |
| Held                   | Held (waiting operator/tool)   | ADET                              |
| Aborted                | Aborted (breakdown)            | ADOT (actual unit down time)      |
| Maintenance            | Stopped, mode Maintenance      | PDOT (planned down time)          |
| Stopped                | Stopped (off shift)            | outside POT (not planned to run)  |

POT = all time - Stopped; PBT = POT - PDOT; AUBT = APT + AUST.
"""

from __future__ import annotations

from enum import StrEnum


class MachineState(StrEnum):
    """What a machine is doing; the value is the name stored in logs and on OPC UA."""

    EXECUTE = "Execute"
    SETUP = "Setup"
    IDLE = "Idle"
    STARVED = "Starved"
    BLOCKED = "Blocked"
    HELD = "Held"
    ABORTED = "Aborted"
    MAINTENANCE = "Maintenance"
    STOPPED = "Stopped"


PRODUCTIVE = frozenset({MachineState.EXECUTE})
DELAY = frozenset({MachineState.STARVED, MachineState.BLOCKED, MachineState.HELD})
"""States counted as ADET (actual unit delay time)."""

PACKML_COLOURS: dict[MachineState, str] = {
    MachineState.EXECUTE: "#2ca02c",
    MachineState.SETUP: "#17becf",
    MachineState.IDLE: "#bcbd22",
    MachineState.STARVED: "#ff7f0e",
    MachineState.BLOCKED: "#9467bd",
    MachineState.HELD: "#e377c2",
    MachineState.ABORTED: "#d62728",
    MachineState.MAINTENANCE: "#8c564b",
    MachineState.STOPPED: "#7f7f7f",
}
