"""The closed loop: the demo (virtual plant, sync, history, planner, dashboard in one process) and serve."""
