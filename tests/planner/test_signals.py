"""The planner leaves the process's Ctrl-C handling alone (services plan on worker threads).

CP-SAT's own SIGINT catching resets SIGINT to 'terminate' at the C level when a solve ends,
invisible to `signal.getsignal`; so the check sends a real SIGINT to a child process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import os, signal
    from twin.loader import load_orders, load_plant
    from twin.samples import sample_path
    from planner.solver import solve

    caught = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    path = sample_path("jobshop3x3")
    plant, _ = load_plant(path)
    orders = load_orders(path.parent / "orders.csv", plant)
    assert solve(plant, orders, time_limit=5).makespan == 11
    os.kill(os.getpid(), signal.SIGINT)
    print("handled" if caught else "not handled")
    """
)


def test_ctrl_c_after_a_solve_reaches_the_applications_handler() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "handled"
