"""The `plantwin` command line: a typer app whose commands live in `plantwin/commands/`.

Each module there defines `register(app)`; modules are found by name, so adding a
command is adding a module. Errors become 'plantwin: error: ...' with exit 2 for a
user mistake and 1 for an internal failure, never a traceback for the former.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback

import typer

import plantwin.commands as commands_pkg
from plantwin.common import err_console

app = typer.Typer(
    name="plantwin",
    help="Digital twin and what-if planning for discrete manufacturing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry point: run the app; an unexpected error exits 1 with a short note."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        err_console.print("plantwin: interrupted")
        sys.exit(130)
    except Exception as exc:  # internal failure: keep the traceback for the bug report
        err_console.print(f"plantwin: internal error: {type(exc).__name__}: {exc}", markup=False)
        traceback.print_exc(file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
