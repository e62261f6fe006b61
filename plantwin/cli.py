"""The `plantwin` command line: a typer app whose commands live in `plantwin/commands/`.

Each module there defines `register(app)`; modules are found by name, so adding a
command is adding a module. `app` (what tests and other code import) has every command;
the console script (`main`) loads only the module named like the command typed when that
module has it (`plantwin whatif ...` imports `plantwin/commands/whatif.py`, not the
dashboard's or the OPC UA server's libraries: seconds saved on every run), and every module
otherwise (`plantwin --help`, `plantwin promise ...`). Errors become 'plantwin: error: ...'
with exit 2 for a user mistake and 1 for an internal failure, never a traceback for the former.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback

import typer

import plantwin.commands as commands_pkg
from plantwin.common import err_console


def _new_app(*, group: bool = False) -> typer.Typer:
    """An app without commands; `group`: one that stays a group with a single command registered."""
    new = typer.Typer(
        name="plantwin",
        help="Digital twin and what-if planning for discrete manufacturing.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    if group:  # typer runs a lone command without its name unless the app has a callback

        @new.callback()
        def _group() -> None:
            """Digital twin and what-if planning for discrete manufacturing."""

    return new


def _modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(commands_pkg.__path__))


def _register(target: typer.Typer, names: list[str]) -> None:
    for name in names:
        importlib.import_module(f"{commands_pkg.__name__}.{name}").register(target)


def _names(target: typer.Typer) -> set[str]:
    """The command and group names registered on `target`."""
    commands = {
        c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")
        for c in target.registered_commands
    }
    return commands | {g.name for g in target.registered_groups if g.name}


_full: typer.Typer | None = None


def _full_app() -> typer.Typer:
    """The app with every command (built once)."""
    global _full
    if _full is None:
        _full = _new_app()
        _register(_full, _modules())
    return _full


def __getattr__(name: str) -> typer.Typer:
    # `from plantwin.cli import app`: the full app, built on first use (PEP 562), so that the
    # console script can start without importing every command module
    if name == "app":
        return _full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _app_for(argv: list[str]) -> typer.Typer:
    """The app with just the command module `argv` names, when that module has the command; else all."""
    word = argv[0] if argv else ""
    module = word.replace("-", "_")
    if word.startswith("-") or module not in _modules():
        return _full_app()
    quick = _new_app(group=True)
    _register(quick, [module])
    return quick if word in _names(quick) else _full_app()


def main() -> None:
    """Console-script entry point: run the app; an unexpected error exits 1 with a short note."""
    try:
        _app_for(sys.argv[1:])()
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
