"""The history store: DuckDB file of every plan, simulation, scenario, verdict and actual."""
