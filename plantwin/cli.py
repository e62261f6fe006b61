"""The `plantwin` command line: a typer app whose commands live in `plantwin/commands/`.

Each module there defines `register(app)`; modules are found by name, so adding a
command is adding a module. Errors become 'plantwin: error: ...' with exit 2 for a
user mistake and 1 for an internal failure, never a traceback for the former.

Commands are registered on demand: `plantwin NAME ...` imports only the module named
NAME (`virtual-plant` -> `virtual_plant.py`) when there is one, so a command does not pay
for the imports of all the others (scipy, dash, asyncua: seconds per process, and again in
every 'spawn' worker, which re-imports this module as `__mp_main__`). Help, an unknown
name, or a command that lives in a module of another name (`samples`, `replan`,
`promise`) registers them all. `from plantwin.cli import app` is the whole app.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from typing import Any

import typer

import plantwin.commands as commands_pkg
from plantwin.common import err_console

_app = typer.Typer(
    name="plantwin",
    help="Digital twin and what-if planning for discrete manufacturing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_registered: set[str] = set()


@_app.callback()
def _root() -> None:
    # a callback keeps the app a group of commands even when only one command is registered
    # (typer runs a lone command as the app itself otherwise)
    pass


def _modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(commands_pkg.__path__))


def _register(name: str) -> None:
    if name not in _registered:
        importlib.import_module(f"{commands_pkg.__name__}.{name}").register(_app)
        _registered.add(name)


def _register_all() -> None:
    for name in _modules():
        _register(name)


def _register_for(argv: list[str]) -> None:
    """Register the module of the command `argv` names, or all of them (see the module doc)."""
    wanted = argv[0].replace("-", "_") if argv and not argv[0].startswith("-") else None
    if wanted is not None and wanted in _modules():
        _register(wanted)
    else:
        _register_all()


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, for in-process callers (tests, CliRunner)
        _register_all()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point: run the app; an unexpected error exits 1 with a short note."""
    try:
        _register_for(sys.argv[1:])
        _app()
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
