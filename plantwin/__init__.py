"""plantwin: the command line and the wiring that starts services (the composition root)."""

__version__ = "0.1.0"
