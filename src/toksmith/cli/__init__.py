"""The ``toksmith`` command line: a thin layer where each command builds a config and calls one library function.

Commands live in one module per pipeline stage in this package (``train.py``, ``analysis.py``, ...); each
module adds its commands to :data:`app` when imported, and :func:`main` imports every module here. A
:class:`~toksmith.errors.ToksmithError` is printed as one red line (exit code 2), never a traceback.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

app = typer.Typer(
    name="toksmith",
    help="Train, measure, price, transfer and evaluate tokenizers for code LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    """Train, measure, price, transfer and evaluate tokenizers for code LLMs."""


def setup_logging(verbose: bool = False) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(show_path=False, rich_tracebacks=False, markup=False)],
        force=True,
    )


def _load_commands() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def main(argv: list[str] | None = None) -> None:
    from ..errors import ToksmithError

    args = sys.argv[1:] if argv is None else argv
    setup_logging(verbose="-v" in args or "--verbose" in args)
    _load_commands()
    try:
        from .options import check_repeats

        check_repeats(args)
        app(args=args, standalone_mode=False)
    except ToksmithError as e:
        from rich.console import Console
        from rich.markup import escape

        from .options import command_flags, flag_message

        message = flag_message(str(e), command_flags(args))
        Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as e:  # click usage errors (typer vendors click; match by interface)
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            sys.exit(e.exit_code)
        raise
