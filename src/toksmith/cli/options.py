"""Helpers the commands share: flags derived from the config dataclasses, list and size flags, tables that fit.

* :func:`config_option` makes a ``typer.Option`` for one dataclass field: its default and help come from the
  dataclass (the field's ``# comment`` is the help text), so a default changed there shows up in ``--help``. The
  option's value is ``None`` when the flag is not given: the command passes only given flags to the config.
* :func:`size` / :func:`sizes` read ``32k``, ``32000``, ``32_000`` (:func:`toksmith.config.parse_size`).
* :func:`split_list` merges a repeated flag and comma-separated values, keeping every value given.
* :func:`print_tables` prints rich tables at the terminal's width and switches a table that does not fit (a pipe
  is 80 columns) to a compact one-line-per-cell layout instead of cutting cells to ``1…``.
* :func:`tokenizer_name` resolves the library's aliases (``r50k``, ``gpt4``, ``llama``...) for every command.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import re
import tokenize
from typing import Any, Optional

import typer

from ..config import parse_size


@functools.lru_cache(maxsize=None)
def field_comments(cls: type) -> dict[str, str]:
    """``{field: its trailing # comment}`` read from the class source (the dataclass documents its fields so)."""
    out: dict[str, str] = {}
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return out
    names = {f.name for f in dataclasses.fields(cls)}
    current = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and tok.string in names and current is None:
            current = tok.string
        elif tok.type == tokenize.COMMENT and current is not None:
            out.setdefault(current, tok.string.lstrip("#").strip())
        elif tok.type == tokenize.NEWLINE:
            current = None
    return out


def config_default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` (``default_factory`` called)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    raise KeyError(f"{cls.__name__}.{name} has no default")


def _shown(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value)) or "none"
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:_}" if value >= 10_000 else str(value)
    return str(value)


def config_option(cls: type, name: str, *decls: str, help: str | None = None, show: Any = dataclasses.MISSING,
                  **kwargs: Any) -> Any:
    """A ``typer.Option(None, ...)`` for ``cls.name``: help from the field's comment, default shown from the field.

    ``help`` replaces the comment; ``show`` replaces the shown default (for a field whose default is computed).
    """
    text = help if help is not None else field_comments(cls).get(name, "")
    default = config_default(cls, name) if show is dataclasses.MISSING else show
    return typer.Option(None, *decls, help=text, show_default=_shown(default), **kwargs)


def size(value: Optional[str], flag: str) -> Optional[int]:
    """``--vocab-size 32k`` -> 32000 (``None`` stays ``None``); a bad value names ``flag``."""
    return None if value is None else parse_size(value, flag)


def split_list(values: Optional[list[str]] | str, flag: str = "") -> list[str]:
    """Every value of a repeatable, comma-separated flag, in order: ``["a,b", "c"]`` -> ``["a", "b", "c"]``."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def sizes(values: Optional[list[str]] | str, flag: str) -> tuple[int, ...]:
    """``--vocab 32k,64k --vocab 128k`` -> (32000, 64000, 128000)."""
    from ..errors import ToksmithError

    out = tuple(parse_size(v, flag) for v in split_list(values, flag))
    if not out and values is not None:
        raise ToksmithError(f"{flag}: give at least one size, e.g. {flag} 32k,64k")
    return out


def tokenizer_name(spec: str) -> str:
    """A reference alias (``r50k``, ``gpt4``, ``llama``...) to its canonical name; anything else unchanged."""
    from ..references import ALIASES

    return ALIASES.get(spec, spec)


_FIELD_RE = re.compile(r"\b[A-Z][A-Za-z]+(?:Config|Limits)\.([a-z_]+)\b")
_FIELD_FLAGS = {"total_chars": "chars", "max_docs_per_subset": "max_docs", "num_threads": "threads",
                "out_dir": "out", "pad_to_multiple_of": "pad_to", "baseline_bytes_per_token": "bytes_per_token",
                "n_samples": "n", "timeout_s": "timeout", "minutes": "align_minutes"}  # config fields whose flag has another name


def command_flags(args: list[str]) -> dict[str, str]:
    """``{config field: flag}`` for the flags of the command in ``args`` that the user actually typed."""
    typed = {a.split("=", 1)[0] for a in args if a.startswith("--")}
    cmd = _command(args)
    out = {}
    for p in getattr(cmd, "params", []):
        flag = next((o for o in p.opts if o.startswith("--")), None)
        if flag in typed and p.name:
            out[p.name] = flag
    for field_name, param in _FIELD_FLAGS.items():
        if param in out:
            out.setdefault(field_name, out[param])
    return out


def _command(args: list[str]):
    import typer.main

    from . import app

    words = [a for a in args if not a.startswith("-")]
    try:
        group = typer.main.get_command(app)
        return getattr(group, "commands", {}).get(words[0]) if words else None  # typer vendors click: duck-type
    except Exception:  # noqa: BLE001 - a helper for messages; click reports the real usage error
        return None


def check_repeats(args: list[str]) -> None:
    """A single-valued flag given twice is an error (click would keep the last value and drop the first silently).

    List flags (``--corpus``, ``--mix``, ``-m``...) take every value.
    """
    from ..errors import ToksmithError

    cmd = _command(args)
    seen: dict[str, list[str]] = {}
    for p in getattr(cmd, "params", []):
        if getattr(p, "multiple", False) or getattr(p, "is_flag", False) or not getattr(p, "opts", None):
            continue
        names = [o for o in p.opts if o.startswith("-")]
        for i, a in enumerate(args):
            head, eq, value = a.partition("=")
            if head in names:
                seen.setdefault(names[0], []).append(value if eq else (args[i + 1] if i + 1 < len(args) else ""))
    for flag, values in seen.items():
        if len(values) > 1:
            raise ToksmithError(f"{flag} given {len(values)} times ({', '.join(values)}); it takes one value, "
                                "give it once")


def flag_message(message: str, flags: dict[str, str]) -> str:
    """Rewrite ``SomeConfig.field`` in a library message as the flag the user typed (``--field``).

    >>> flag_message("FinetuneConfig.steps must be >= 1", {"steps": "--steps"})
    '--steps must be >= 1'
    """
    return _FIELD_RE.sub(lambda m: flags.get(m.group(1), m.group(0)), message)


def table_console(min_width: int = 0):
    """A rich console for tables (stdout); ``min_width`` widens a piped console (80 columns) for wide layouts."""
    from rich.console import Console

    console = Console()
    if min_width and console.width < min_width and not console.is_terminal:
        console = Console(width=min_width)
    return console


def _compact(table) -> list[str]:
    """A table as plain lines: one block per row, ``column: value`` per cell (nothing cut)."""
    from rich.text import Text

    def plain(cell: Any) -> str:
        return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain

    cols = table.columns
    lines = [plain(table.title)] if table.title else []
    n_rows = max((len(c._cells) for c in cols), default=0)
    for i in range(n_rows):
        cells = [plain(c._cells[i]) if i < len(c._cells) else "" for c in cols]
        head = cells[0].strip()
        rest = "; ".join(f"{plain(c.header)} {v}" for c, v in zip(cols[1:], cells[1:]) if v.strip())
        lines.append(f"{head}: {rest}" if head else rest)
    return lines


def _natural_width(console, table) -> int:
    """The width ``table`` needs with no cell wrapped or cut."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update_width(100_000), table).maximum


def print_tables(*renderables: Any, console=None) -> None:
    """Print tables and lines; a table wider than the console is printed in the compact layout instead."""
    from rich.table import Table

    console = console or table_console()
    for r in renderables:
        if isinstance(r, Table) and _natural_width(console, r) > console.width:
            for line in _compact(r):
                console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            console.print(r)
